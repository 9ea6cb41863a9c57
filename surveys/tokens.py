"""Invitation tokens and open-link session keys: how they are drawn and the one form in
which an invitation keeps its token."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["hash_token", "new_session_key", "new_token"]


def new_token() -> str:
    """A fresh invitation token: ``secrets.token_urlsafe(24)`` (192 random bits).

    Tokens starting with ``-`` or ``_`` are drawn again, so a token pasted into a
    spreadsheet or mail merge is never read as a formula or an option.
    """
    while True:
        token = secrets.token_urlsafe(24)
        if token[0].isalnum():
            return token


def new_session_key() -> str:
    """A random key under which an open (token-less) link keeps its partial progress."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """SHA-256 (hex) of an invitation token: the only form in which the invitation keeps it.

    Never used for anything else that is stored (progress uses :func:`progress_key_id`),
    so nothing else in the database equals or derives from an invitation's hash.
    """
    return hashlib.sha256(str(token).encode("utf-8", "surrogatepass")).hexdigest()
