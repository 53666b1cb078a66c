"""Revoked drift-page sessions: logout is remembered in PostgreSQL, so every replica refuses the cookie."""

from __future__ import annotations

from datetime import datetime

from daemon.db.pool import Connection, Pool
from daemon.db.queries import query


async def revoke(conn: Connection | Pool, digest: str, expires_at: datetime) -> None:
    await conn.execute(query("prune_revoked_sessions"))
    await conn.execute(query("revoke_session"), digest, expires_at)


async def revoked(conn: Connection | Pool, digest: str) -> bool:
    return bool(await conn.fetchval(query("session_revoked"), digest))
