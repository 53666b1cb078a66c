"""Migrations: numbered files in sql/migrations, each applied in its own transaction with a checksum.

`migrate()` is idempotent and safe when several processes run it at once (a session advisory lock
serialises them; the loser finds nothing pending). `check()` is the start-up gate: the daemon refuses
a pending, edited or unknown migration and says which.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from daemon.db.pool import Connection
from daemon.db.queries import query, sql_root
from daemon.errors import MigrationError

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    pending: tuple[Migration, ...]
    edited: tuple[str, ...]
    unknown: tuple[str, ...]  # applied in the database but absent from this build (a newer build ran)

    @property
    def current(self) -> bool:
        return not (self.pending or self.edited or self.unknown)

    def problem(self) -> str:
        parts = []
        if self.pending:
            parts.append("pending: " + ", ".join(f"{m.version:04d}_{m.name}" for m in self.pending))
        if self.edited:
            parts.append("edited after being applied: " + ", ".join(self.edited))
        if self.unknown:
            parts.append("applied but unknown to this build: " + ", ".join(self.unknown))
        return "; ".join(parts)


def load_migrations() -> list[Migration]:
    found = []
    for entry in sql_root().joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return found


async def status(conn: Connection) -> MigrationStatus:
    applied = {}
    if await conn.fetchval(query("migrations_table_exists")):
        applied = {r["version"]: r for r in await conn.fetch(query("applied_migrations"))}
    files = load_migrations()
    known = {m.version for m in files}
    pending = tuple(m for m in files if m.version not in applied)
    edited = tuple(
        f"{m.version:04d}_{m.name}"
        for m in files
        if m.version in applied and applied[m.version]["checksum"] != m.checksum
    )
    unknown = tuple(f"{v:04d}_{r['name']}" for v, r in applied.items() if v not in known)
    return MigrationStatus(pending, edited, unknown)


async def migrate(conn: Connection) -> list[Migration]:
    """Apply every pending migration; returns those this call applied."""
    await conn.execute(query("lock_migrations"))
    try:
        await conn.execute(query("create_migrations_table"))
        current = await status(conn)
        if current.edited or current.unknown:
            raise MigrationError(current.problem())
        for migration in current.pending:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    query("record_migration"), migration.version, migration.name, migration.checksum
                )
        return list(current.pending)
    finally:
        await conn.execute(query("unlock_migrations"))


async def check(conn: Connection) -> None:
    """Raise MigrationError unless the database schema is exactly this build's."""
    current = await status(conn)
    if not current.current:
        raise MigrationError(f"database schema is not current ({current.problem()}); run `stocksync migrate`")
