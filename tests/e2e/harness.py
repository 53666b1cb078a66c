"""End-to-end harness: a catalog in a real database, sandbox stores on 127.0.0.1, an engine on top."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from daemon.config import config_from_tables
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.engine import Engine
from reconcilers import ReconcilerFactory
from reconcilers.transport import RetryPolicy
from sandbox_store.server import SandboxStore
from sandbox_store.state import SandboxConfig

TOKEN = "sandbox-test-token"
WEBHOOK_SECRET = "sandbox-webhook-secret"

CATALOG_SQL = """
INSERT INTO facilities VALUES ('us1', 'US', ''), ('ca1', 'CA', ''), ('mx1', 'MX', ''), ('lv1', 'LV', ''),
                              ('es1', 'ES', ''), ('au1', 'AU', '');
INSERT INTO regions VALUES ('north_america'), ('europe'), ('worldwide');
INSERT INTO region_facilities SELECT 'north_america', id FROM facilities WHERE id IN ('us1', 'ca1', 'mx1');
INSERT INTO region_facilities SELECT 'europe', id FROM facilities WHERE id IN ('lv1', 'es1');
INSERT INTO region_facilities SELECT 'worldwide', id FROM facilities;
"""


@dataclass
class World:
    pool: Pool
    engine: Engine
    session: aiohttp.ClientSession
    credentials_dir: Path
    sandboxes: dict[str, SandboxStore] = field(default_factory=dict)
    dsn: str = ""  # set by tests that run the CLI or a daemon against the same database
    urls: dict[str, str] = field(default_factory=dict)

    async def add_store(
        self,
        store_id: str,
        *,
        region: str = "north_america",
        policy: str = "protect",
        mode: str = "status",
        safety_buffer: int = 0,
        batch_limit: int = 50,
        page_size: int = 100,
        webhook_url: str | None = None,
        rate_per_s: float | None = None,
        latency_ms: int = 0,
    ) -> SandboxStore:
        sandbox = SandboxStore(
            SandboxConfig(
                token=TOKEN,
                page_size=page_size,
                batch_limit=batch_limit,
                webhook_url=webhook_url,
                webhook_secret=WEBHOOK_SECRET,
                rate_per_s=rate_per_s,
                latency_ms=latency_ms,
            )
        )
        url = await sandbox.start()
        self.sandboxes[store_id], self.urls[store_id] = sandbox, url
        credential = f"{store_id}-token"
        (self.credentials_dir / credential).write_text(
            json.dumps({"token": TOKEN, "webhook_secret": WEBHOOK_SECRET})
        )
        settings = {"base_url": url, "batch_limit": batch_limit, "page_size": page_size}
        await self.pool.execute(
            "INSERT INTO stores (id, platform, region_id, credential, drift_policy, mode, safety_buffer, settings)"
            " VALUES ($1, 'sandbox', $2, $3, $4, $5, $6, $7)",
            store_id,
            region,
            credential,
            policy,
            mode,
            safety_buffer,
            settings,
        )
        await self.pool.execute("INSERT INTO store_schedule (store_id) VALUES ($1)", store_id)
        return sandbox

    async def variant(
        self, variant_id: str, kind: str = "pod", stock: Mapping[str, Any] | None = None
    ) -> None:
        """A variant with stock per facility: {'us1': 'in_stock'} or {'us1': ('in_stock', 5)}."""
        await self.pool.execute(
            "INSERT INTO variants VALUES ($1, upper($1), $2) ON CONFLICT DO NOTHING", variant_id, kind
        )
        await self.set_stock(variant_id, stock or {})

    async def set_stock(self, variant_id: str, stock: Mapping[str, Any]) -> None:
        for facility, value in stock.items():
            status, quantity = value if isinstance(value, tuple) else (value, None)
            await self.pool.execute(
                "INSERT INTO facility_stock (variant_id, facility_id, status, quantity) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (variant_id, facility_id) DO UPDATE SET status = $3, quantity = $4,"
                " source_updated_at = now()",
                variant_id,
                facility,
                status,
                quantity,
            )

    async def map(
        self, store_id: str, external_id: str, variant_id: str, shown: tuple[bool, int | None]
    ) -> None:
        """Map a variant and seed the store item as it shows today."""
        await self.pool.execute(
            "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ($1, $2, $3)",
            store_id,
            external_id,
            variant_id,
        )
        await self.control(
            store_id,
            "POST",
            "/control/items",
            {"items": [{"external_id": external_id, "available": shown[0], "quantity": shown[1]}]},
        )

    async def control(self, store_id: str, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(
            method, self.urls[store_id] + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status < 300, await response.text()
            return await response.json(content_type=None)

    def writes(self, store_id: str) -> list[str]:
        return [w.external_id for w in self.sandboxes[store_id].write_log]

    def shown(self, store_id: str, external_id: str) -> tuple[bool, int | None]:
        item = self.sandboxes[store_id].items[external_id]
        return item.available, item.quantity


@asynccontextmanager
async def world(pool: Pool, tmp_path: Path, **tables: dict[str, Any]) -> AsyncIterator[World]:
    """`tables` are config sections as in the TOML file (e.g. retries={"in_pass_attempts": 2}), over
    quick in-pass retries and no overwrite back-off."""
    await pool.execute(CATALOG_SQL)
    credentials_dir = tmp_path / "credentials"
    credentials_dir.mkdir()
    quick = {"retries": {"in_pass_backoff_s": 0.01}, "drift": {"overwrite_backoff_s": 0.0}}
    config = config_from_tables(
        {s: quick.get(s, {}) | tables.get(s, {}) for s in quick.keys() | tables.keys()}
    )
    async with aiohttp.ClientSession() as session:
        factory = ReconcilerFactory(session, retry=RetryPolicy(attempts=3, base_delay=0.01))
        engine = Engine(pool, factory, CredentialStore(str(credentials_dir)), config)
        state = World(pool, engine, session, credentials_dir)
        try:
            yield state
        finally:
            for sandbox in state.sandboxes.values():
                await sandbox.stop()
