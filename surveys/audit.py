"""The audit of raw-data exports: who downloaded which campaign's responses, when.

Raw exports (one row per response, free text included) are the most sensitive thing the
staff area hands out, so each one is recorded in the table ``export_audit`` of the store:
the time to the second (unlike respondents' data, which is kept to the hour, an audit
needs the real moment), the signed-in identity (an e-mail address, or
``password:<role>`` for password sign-in), the role, the campaign and the kind of file.

API
---
``record_export(store, *, actor, role, campaign_id, kind) -> None``
    One row; call it when the file is generated for the user (e.g. in the callable
    ``data=`` of ``st.download_button``), not when the button is drawn.
``export_log(store, campaign_id=None) -> DataFrame``
    ``at, actor, role, campaign, kind``, newest first; all campaigns, or one.

No Streamlit here: the Responses page calls these with ``views.signin.current_identity()``
and ``views.signin.current_role()``.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import sqlalchemy as sa

from surveys import store as db
from surveys.errors import TandemError

__all__ = ["KIND", "AuditError", "export_log", "record_export"]

#: What ``kind`` may look like: lower-case words joined by ``-`` (``raw-csv``, ``raw-sav``).
KIND = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
#: Roles an export may be recorded for (the values of ``surveys.auth.Role``).
_ROLES = ("admin", "analyst", "viewer")


class AuditError(TandemError):
    """An audit record that cannot be written as asked."""


def record_export(store: db.Store, *, actor: str, role: str, campaign_id: str, kind: str,
                  now: dt.datetime | None = None) -> None:
    """Record one export: ``actor`` (the signed-in identity) in ``role`` took ``kind`` of ``campaign_id``.

    ``role`` is a ``surveys.auth.Role`` or its value. Raises :class:`AuditError` for an
    empty actor, an unknown role or a malformed kind, so a caller's mistake never
    produces an anonymous row.
    """
    role_value = str(getattr(role, "value", role))
    actor = str(actor or "").strip()
    if not actor:
        raise AuditError("an export must name who took it", where="export audit",
                         fix="Pass the signed-in identity (views.signin.current_identity()).")
    if role_value not in _ROLES:
        raise AuditError(f"unknown role '{role_value[:30]}'", where="export audit",
                         fix=f"Use one of {', '.join(_ROLES)} (surveys.auth.Role).")
    if not KIND.fullmatch(str(kind)):
        raise AuditError(f"'{str(kind)[:40]}' is not a usable export kind", where="export audit",
                         fix="Use lower-case words joined by '-', e.g. 'raw-csv'.")
    moment = db.as_utc(now) if now else db.utcnow()
    row = {"at": moment.replace(microsecond=0), "actor": actor[:320], "role": role_value,
           "campaign_id": str(campaign_id)[:100], "kind": str(kind)}
    store.run(lambda conn: conn.execute(db.export_audit.insert().values(**row)))


def export_log(store: db.Store, campaign_id: str | None = None) -> pd.DataFrame:
    """The recorded exports, newest first: ``at`` (UTC, to the second), ``actor``, ``role``, ``campaign``, ``kind``."""
    a = db.export_audit
    query = sa.select(a.c.at, a.c.actor, a.c.role, a.c.campaign_id, a.c.kind).order_by(a.c.at.desc(), a.c.id.desc())
    if campaign_id is not None:
        query = query.where(a.c.campaign_id == campaign_id)
    rows = store.run(lambda conn: conn.execute(query).all(), write=False)
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["at", "actor", "role", "campaign", "kind"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame
