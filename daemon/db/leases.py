"""Which stores this process works: one session-level PostgreSQL advisory lock per store.

The locks live on one connection this process keeps for them. PostgreSQL releases them the moment that
session ends, so when a replica is killed its stores are free at once (a time-based lease left them
stalled for the whole lease), while a replica that is merely slow keeps its stores for as long as its
session lives: nobody takes a store from a holder that still writes. Should the connection itself be
lost (database restart), every lock on it is gone: holds() turns false and the workers stop writing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from daemon.db.pool import DATABASE_UNAVAILABLE, Pool
from daemon.db.queries import query


class StoreLocks:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy[Any] | None = None  # a pool connection kept for the locks
        self._generation = 0  # bumped when the connection is replaced: older locks are gone
        self._held: dict[str, int] = {}  # store -> generation it was locked in
        self._mutex = asyncio.Lock()  # one statement at a time on the shared connection

    @property
    def held(self) -> list[str]:
        return sorted(self._held)

    def holds(self, store_id: str) -> bool:
        """Whether this process still holds the store: its lock's session is the live one."""
        conn = self._conn
        return conn is not None and not conn.is_closed() and self._held.get(store_id) == self._generation

    async def try_lock(self, candidates: Sequence[str]) -> str | None:
        """Lock the first candidate no other session holds; None when all are held elsewhere."""
        async with self._mutex:
            conn = await self._connection()
            # a store locked on a session that has since died is ours no more (whatever its worker did
            # or failed to do since): it may be taken again
            self._held = {s: g for s, g in self._held.items() if g == self._generation}
            free = [s for s in candidates if s not in self._held]
            if not free:
                return None
            store_id = await conn.fetchval(query("try_store_locks"), free)
            if store_id is not None:
                self._held[str(store_id)] = self._generation
            return None if store_id is None else str(store_id)

    async def wait_lock(self, store_id: str) -> None:
        """Block until the store is free (the CLI waits for a daemon's pass of the store to end)."""
        async with self._mutex:
            conn = await self._connection()
            await conn.execute(query("wait_store_lock"), store_id)
            self._held[store_id] = self._generation

    async def unlock(self, store_id: str) -> None:
        async with self._mutex:
            generation = self._held.pop(store_id, None)
            conn = self._conn
            if generation != self._generation or conn is None or not _alive(conn):
                return  # that session is gone, and its locks with it
            try:
                await conn.fetchval(query("unlock_store"), store_id)
            except DATABASE_UNAVAILABLE:
                await self._drop()

    async def close(self) -> None:
        async with self._mutex:
            self._held.clear()
            await self._drop()

    async def _connection(self) -> PoolConnectionProxy[Any]:
        conn = self._conn
        if conn is not None and _alive(conn):
            return conn
        await self._drop()
        fresh: PoolConnectionProxy[Any] = await self._pool.acquire()
        self._conn = fresh
        return fresh

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        self._generation += 1
        with contextlib.suppress(*DATABASE_UNAVAILABLE):
            if _alive(conn):  # back to the pool without our locks (the pool does not reset them)
                await conn.execute(query("unlock_all_stores"))
        with contextlib.suppress(*DATABASE_UNAVAILABLE):  # asyncpg may have taken it back already
            await self._pool.release(conn, timeout=5)


def _alive(conn: PoolConnectionProxy[Any] | None) -> bool:
    """An open session; a proxy asyncpg already took back (its connection was lost) counts as closed."""
    if conn is None:
        return False
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False
