"""A store webhook that reveals drift counts in stocksync_drift_opened_total, like a pass does."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.metrics import DRIFT_OPENED
from daemon.web.app import build_app
from daemon.web.context import Liveness, Services
from sandbox_store.server import sign_webhook
from tests.e2e.harness import WEBHOOK_SECRET, world


def notification(external_id: str, available: bool) -> tuple[bytes, dict[str, str]]:
    item = {"external_id": external_id, "available": available, "quantity": None}
    body = json.dumps({"topic": "item.updated", "item": item}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Sandbox-Hmac-Sha256": sign_webhook(WEBHOOK_SECRET, body),
    }
    return body, headers


async def test_webhook_drift_counts_in_drift_opened_total(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na", policy="report")
        await w.variant("tee", stock={"us1": "in_stock"})
        await w.map("na", "E-TEE", "tee", (True, None))
        await w.engine.run_pass("na")  # applied = available: the store and we agree
        credentials = CredentialStore(str(w.credentials_dir))
        app = build_app(Services(Config(), pool, w.engine, credentials, Liveness(scheduler_running=True)))
        counter = DRIFT_OPENED.labels("sandbox")
        async with TestClient(TestServer(app)) as client:
            before = counter._value.get()
            body, headers = notification("E-TEE", True)
            echo = await client.post("/v1/stores/na/webhook", data=body, headers=headers)
            assert echo.status == 200 and (await echo.json())["drift_opened"] == 0
            assert counter._value.get() == before  # an echo of what we applied is not drift

            body, headers = notification("E-TEE", False)  # a merchant hid the variant by hand
            edit = await client.post("/v1/stores/na/webhook", data=body, headers=headers)
            assert edit.status == 200 and (await edit.json())["drift_opened"] == 1
            assert counter._value.get() == before + 1

            again = await client.post("/v1/stores/na/webhook", data=body, headers=headers)
            assert (await again.json())["drift_opened"] == 0  # the open record is refreshed, not reopened
            assert counter._value.get() == before + 1
            scrape = await (await client.get("/metrics")).text()
            assert f'stocksync_drift_opened_total{{platform="sandbox"}} {before + 1}' in scrape
