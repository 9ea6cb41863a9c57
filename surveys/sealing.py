"""Sealed progress: the keys derived from a respondent's token, and the encryption of their answers.

A respondent's unfinished answers are stored under :func:`progress_key_id`, an
HMAC-SHA256 of the token under its own purpose label (never the invitation's
``token_hash``, and not computable from anything in the database), and sealed with
AES-256-GCM (:func:`seal`) under a second key derived the same way, so a database
backup alone reveals neither whose progress a row is nor what it says. The token is
the only key: it is what lets a respondent resume. Storage, retention and purging are
:mod:`surveys.campaigns`.

References
----------
Krawczyk, H., Bellare, M. & Canetti, R. (1997). HMAC: keyed-hashing for message
authentication. RFC 2104. McGrew, D. & Viega, J. (2004). The Galois/Counter Mode of
operation (GCM). NIST SP 800-38D.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["PROGRESS_KEY_LABEL", "PROGRESS_SEAL_LABEL", "SEAL_MIN_SIZE", "SEAL_VERSION", "open_seal",
           "progress_key_id", "seal"]

#: Purpose labels of the two keys derived from a token (or an open link's session key):
#: the id a progress row is found under, and the AES-256-GCM key it is sealed with.
PROGRESS_KEY_LABEL = b"tandem/progress-key/v1"
PROGRESS_SEAL_LABEL = b"tandem/progress-seal/v1"
#: Version byte in front of every sealed progress value.
SEAL_VERSION = b"\x01"
#: Sealed plaintexts are padded to a power of two of at least this many bytes, so the
#: length of a row says little about how much a respondent wrote.
SEAL_MIN_SIZE = 1024


def _derive(key: str, label: bytes, campaign_id: str) -> bytes:
    """HMAC-SHA256 of ``label`` and the campaign id under the token: one 32-byte key per purpose.

    The token (192 random bits) is the HMAC key, so without it nothing derived here can
    be computed, and neither derived key says anything about the invitation's
    ``token_hash`` (plain SHA-256 of the token).
    """
    secret = str(key).encode("utf-8", "surrogatepass")
    return hmac.new(secret, label + b"\x00" + campaign_id.encode("utf-8"), hashlib.sha256).digest()


def progress_key_id(campaign_id: str, key: str) -> str:
    """The id (hex) a respondent's progress row is stored under; derivable only from the token."""
    return _derive(key, PROGRESS_KEY_LABEL, campaign_id).hex()


def seal(campaign_id: str, key: str, key_id: str, payload: bytes) -> bytes:
    """AES-256-GCM of ``payload`` (length-prefixed, zero-padded to a power of two of at
    least :data:`SEAL_MIN_SIZE` bytes) under the token's seal key, bound to the campaign
    and the row's key id as associated data."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    size = max(SEAL_MIN_SIZE, 1 << (len(payload) + 4 - 1).bit_length())
    padded = len(payload).to_bytes(4, "big") + payload + b"\x00" * (size - 4 - len(payload))
    nonce = secrets.token_bytes(12)
    aad = SEAL_VERSION + campaign_id.encode("utf-8") + b"\x00" + key_id.encode("ascii")
    return SEAL_VERSION + nonce + AESGCM(_derive(key, PROGRESS_SEAL_LABEL, campaign_id)).encrypt(nonce, padded, aad)


def open_seal(campaign_id: str, key: str, key_id: str, sealed: bytes) -> bytes | None:
    """The payload of :func:`seal`, or None when the key, campaign or row does not match."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = bytes(sealed)
    if sealed[:1] != SEAL_VERSION or len(sealed) < 1 + 12 + 16 + 4:
        return None
    aad = SEAL_VERSION + campaign_id.encode("utf-8") + b"\x00" + key_id.encode("ascii")
    try:
        padded = AESGCM(_derive(key, PROGRESS_SEAL_LABEL, campaign_id)).decrypt(sealed[1:13], sealed[13:], aad)
    except InvalidTag:
        return None
    length = int.from_bytes(padded[:4], "big")
    return padded[4:4 + length]
