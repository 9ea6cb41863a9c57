"""Results computed ahead for the Insight pages, kept in the store by data version and node.

A *publication* is what the Insight pages show for a set of campaigns at one data
version (:func:`services.sources.campaign_version`: each campaign with its response
count and state), for the whole data and for organisation nodes: one opaque payload per
node (``""``: everything), written by :mod:`services.published`. This module only keeps
the bytes; it does not read them.

A publication answers only its own version: a new response or a closed campaign gives a
new version, for which nothing is published until the next ``tandem analyze publish``
(pages then compute, and say so). Publishing a new version of a campaign set replaces
the rows of its older versions; publishing more nodes of the same version adds them.

API overview
------------
``save(store, version, payloads)``
    Publish ``payloads`` (node -> bytes) at ``version`` in one transaction: older
    versions of the campaign set go, other nodes of the same version stay.
``load(store, version, node)``
    The payload of one node at exactly ``version``, or None.
``nodes(store, version)``, ``node_names(store, version)``
    The nodes published at ``version``, with when and their size; their names only.
``withdraw(store, version)``
    Delete the campaign set's publication.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pandas as pd
import sqlalchemy as sa

from surveys import store as db
from surveys.schema import published_results

__all__ = ["load", "node_names", "nodes", "save", "version_key", "withdraw"]


def version_key(version: Sequence) -> str:
    """The text a data version is stored under (JSON of the version tuple)."""
    return json.dumps(list(version), separators=(",", ":"))


def _campaigns(version: Sequence) -> str:
    return ",".join(sorted(str(entry[0]) for entry in version[1:]))


def save(store: db.Store, version: Sequence, payloads: Mapping[str, bytes]) -> None:
    """Publish ``payloads`` (node -> bytes) for the version's campaign set: the set's older
    versions are deleted, and at this version the nodes in ``payloads`` are replaced while
    the other nodes published at it are kept (publishing one region after another)."""
    campaigns, key, now = _campaigns(version), version_key(version), db.utcnow()
    t = published_results

    def write(conn: sa.Connection) -> None:
        conn.execute(sa.delete(t).where(t.c.campaigns == campaigns, t.c.version != key))
        names = list(payloads)
        for start in range(0, len(names), 500):  # bounded IN lists
            conn.execute(sa.delete(t).where(t.c.version == key, t.c.node.in_(names[start:start + 500])))
        if payloads:
            conn.execute(sa.insert(published_results), [
                {"campaigns": campaigns, "version": key, "node": node, "payload": payload, "created_at": now}
                for node, payload in payloads.items()])

    store.run(write)


def withdraw(store: db.Store, version: Sequence) -> None:
    """Delete every publication of the version's campaign set (the pages then compute)."""
    campaigns = _campaigns(version)
    store.run(lambda conn: conn.execute(sa.delete(published_results).where(published_results.c.campaigns == campaigns)))


def load(store: db.Store, version: Sequence, node: str) -> bytes | None:
    """The payload published for ``node`` at exactly ``version``, or None."""
    query = sa.select(published_results.c.payload).where(published_results.c.version == version_key(version),
                                                         published_results.c.node == node)
    row = store.run(lambda conn: conn.execute(query).first(), write=False)
    return None if row is None else bytes(row[0])


def node_names(store: db.Store, version: Sequence) -> tuple[str, ...]:
    """The nodes published at ``version``, sorted (no payload is read)."""
    t = published_results
    query = sa.select(t.c.node).where(t.c.version == version_key(version)).order_by(t.c.node)
    return tuple(store.run(lambda conn: conn.execute(query).scalars().all(), write=False))


def nodes(store: db.Store, version: Sequence) -> pd.DataFrame:
    """``node, created_at, bytes`` of every node published at ``version``."""
    t = published_results
    query = sa.select(t.c.node, t.c.created_at, sa.func.length(t.c.payload).label("bytes")).where(
        t.c.version == version_key(version)).order_by(t.c.node)
    rows = store.run(lambda conn: conn.execute(query).all(), write=False)
    return pd.DataFrame(rows, columns=["node", "created_at", "bytes"])
