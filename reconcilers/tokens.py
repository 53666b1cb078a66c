"""OAuth tokens a platform refreshes by itself, kept in this process per store (the daemon cannot
rewrite its credential files, so a refreshed pair must outlive the per-pass reconcilers).

A token is keyed by the store and a fingerprint of the credential's own pair: a new credential file
starts afresh, a restart starts from the file again. Values never reach a repr, a message or a log.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field


@dataclass
class Token:
    access: str  # "": none issued yet (a credential may hold only the refresh token)
    refresh: str | None
    expires_at: float | None = None  # unix time after which `access` must be refreshed; None: unknown
    refused: bool = False  # the refresh token itself was refused: only a new credential helps
    # one refresh at a time per store: a rotated refresh token is good for one use only
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __repr__(self) -> str:
        return "Token(<redacted>)"


KEPT: dict[tuple[str, str], Token] = {}


def kept_token(store_id: str, access: str, refresh: str | None) -> Token:
    """The store's token as last refreshed in this process, else the credential's own pair."""
    fingerprint = hashlib.sha256(f"{access}|{refresh}".encode()).hexdigest()
    return KEPT.setdefault((store_id, fingerprint), Token(access, refresh))
