"""POST /v1/catalog-updated also asks the upstream sources covering the named variants for a pull: a
POS bridge re-reads stock when the back office changes the catalog, and so does stocksync."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from daemon.config import Config
from daemon.credentials import WEBHOOK_SECRET, CredentialStore
from daemon.db.pool import Pool
from daemon.web.app import build_app
from daemon.web.context import Liveness, Services
from reconcilers.signatures import sign_stocksync
from sources.factory import SourceFactory
from tests.e2e.harness import world

SECRET = "catalog-updated-secret"


async def test_a_catalog_update_requests_a_pull_of_the_sources_covering_its_variants(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na")
        for variant in ("tee", "mug"):
            await w.variant(variant, stock={"us1": "in_stock"})
            await w.map("na", f"E-{variant.upper()}", variant, (True, None))
        (w.credentials_dir / WEBHOOK_SECRET).write_text(SECRET)
        for source, variant in (("tees", "tee"), ("mugs", "mug")):
            await pool.execute(
                "INSERT INTO sources (id, kind, facilities) VALUES ($1, 'printful', '{us1}')", source
            )
            await pool.execute(
                "INSERT INTO source_mappings VALUES ($1, $2, $3)", source, f"P-{variant}", variant
            )
            await pool.execute(
                "INSERT INTO source_state (source_id, next_pull_at) VALUES ($1, now() + interval '1 day')",
                source,
            )
        async with aiohttp.ClientSession() as session:
            services = Services(
                Config(),
                pool,
                w.engine,
                CredentialStore(str(w.credentials_dir)),
                Liveness(scheduler_running=True),
                SourceFactory(session),
            )
            async with TestClient(TestServer(build_app(services))) as client:

                async def catalog_updated(body: bytes) -> tuple[int, dict[str, object]]:
                    ts = int(time.time())
                    headers = {
                        "X-Stocksync-Timestamp": str(ts),
                        "X-Stocksync-Signature": sign_stocksync(SECRET, ts, body),
                    }
                    answer = await client.post("/v1/catalog-updated", data=body, headers=headers)
                    return answer.status, await answer.json()

                status, answer = await catalog_updated(json.dumps({"variant_ids": ["tee"]}).encode())
                assert (status, answer) == (202, {"stores": ["na"], "sources": ["tees"]})
                requested = (
                    "SELECT source_id FROM source_state WHERE pull_requested_at IS NOT NULL ORDER BY 1"
                )
                assert [r["source_id"] for r in await pool.fetch(requested)] == ["tees"]
                status, answer = await catalog_updated(b"")  # the whole catalog
                assert status == 202 and answer["sources"] == ["mugs", "tees"]
