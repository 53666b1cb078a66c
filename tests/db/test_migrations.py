"""Migrations: idempotent, safe under concurrency, edited files refused, schema constraints hold."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from daemon.db import migrate
from daemon.errors import MigrationError


async def test_migrate_twice_applies_once(empty_db_dsn: str) -> None:
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        first = await migrate.migrate(conn)
        second = await migrate.migrate(conn)
        assert [m.version for m in first] == [m.version for m in migrate.load_migrations()]
        assert second == []
        await migrate.check(conn)
    finally:
        await conn.close()


async def test_concurrent_migrate_applies_each_once(empty_db_dsn: str) -> None:
    conns = [await asyncpg.connect(empty_db_dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate.migrate(c) for c in conns))
        applied = sorted(m.version for result in results for m in result)
        assert applied == [m.version for m in migrate.load_migrations()]
        rows = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
        assert rows == len(migrate.load_migrations())
    finally:
        for c in conns:
            await c.close()


async def test_check_refuses_pending(empty_db_dsn: str) -> None:
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        with pytest.raises(MigrationError, match="pending: 0001_initial"):
            await migrate.check(conn)
    finally:
        await conn.close()


async def test_check_refuses_edited_migration(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
        with pytest.raises(MigrationError, match="edited after being applied: 0001_initial"):
            await migrate.check(conn)
        with pytest.raises(MigrationError, match="edited"):
            await migrate.migrate(conn)
    finally:
        await conn.close()


async def test_check_refuses_unknown_newer_migration(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )
        with pytest.raises(MigrationError, match="unknown to this build: 9999_future"):
            await migrate.check(conn)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO facility_stock VALUES ('v1', 'f1', 'in_stock', -1)",
        "INSERT INTO facility_stock VALUES ('v1', 'f1', 'sold', 1)",
        "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ('s1', 'e9', 'nope')",
        "INSERT INTO variants VALUES ('v2', 'SKU2', 'dropship')",
        "INSERT INTO facilities VALUES ('f2', 'usa', 'x')",
        "INSERT INTO stores (id, platform, region_id, credential, drift_policy) VALUES ('s2','x','r1','c','ignore')",
    ],
)
async def test_constraints_reject_impossible_rows(db_dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute(
            """
            INSERT INTO facilities VALUES ('f1', 'US', 'Charlotte');
            INSERT INTO regions VALUES ('r1');
            INSERT INTO variants VALUES ('v1', 'SKU1', 'pod');
            INSERT INTO stores (id, platform, region_id, credential) VALUES ('s1', 'sandbox', 'r1', 'c');
            """
        )
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await conn.execute(statement)
    finally:
        await conn.close()
