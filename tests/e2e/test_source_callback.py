"""POST /v1/sources/{id}/callback on the real app: the source's reader verifies (401, nothing stored)
and parses (400 naming the field); rows become stock events (newest wins, a redelivery changes
nothing), pull_ids a persisted partial-pull request, all stored before the 202."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

import sources
from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.errors import InputError
from daemon.model import StockStatus
from daemon.web.app import build_app
from daemon.web.context import Liveness, Services
from sources.factory import SourceFactory
from sources.interface import NotModified, Snapshot, SourceCallback, SourceContext, SourceStock, Validators
from tests.e2e.harness import world

SECRET = "push-source-secret"


class PushReader:
    """A source kind that only pushes: signed JSON {delivery, at, rows: [[variant, facility, status]], pull_ids}."""

    kind: ClassVar[str] = "test_push"

    def __init__(self, context: SourceContext) -> None:
        self._secret = context.credential.reveal() if context.credential else ""

    async def pull(self, previous: Validators, only: frozenset[str] | None = None) -> Snapshot | NotModified:
        return NotModified(previous)

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        expected = hmac.new(self._secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get("X-Push-Signature", ""), expected)

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> SourceCallback:
        document = json.loads(body)
        rows = []
        for i, (variant, facility, status) in enumerate(document.get("rows", [])):
            if status not in ("in_stock", "out_of_stock"):
                raise InputError("body", f"rows[{i}].status", "expected in_stock or out_of_stock")
            rows.append(SourceStock(variant, facility, StockStatus(status), None))
        return SourceCallback(
            rows,
            datetime.fromisoformat(document["at"]),
            frozenset(document.get("pull_ids", [])),
            document.get("delivery"),
        )


def signed(document: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(document).encode()
    return body, {"X-Push-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


async def test_callback_rows_and_pull_ids_are_stored_before_the_202(
    pool: Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sources._KINDS, "test_push", f"{__name__}:PushReader")
    async with world(pool, tmp_path) as w:
        await w.add_store("na")
        await w.variant("tee", stock={"us1": "in_stock"})
        await w.map("na", "E-TEE", "tee", (True, None))
        (w.credentials_dir / "push-secret").write_text(SECRET)
        await pool.execute(
            "INSERT INTO sources (id, kind, credential, facilities) VALUES ('push1', 'test_push', 'push-secret', '{us1}')"
        )
        await pool.execute(
            "INSERT INTO source_state (source_id, next_pull_at) VALUES ('push1', now() + interval '1 day')"
        )
        credentials = CredentialStore(str(w.credentials_dir))
        now = datetime.now(UTC).isoformat()
        async with aiohttp.ClientSession() as session:
            services = Services(
                Config(),
                pool,
                w.engine,
                credentials,
                Liveness(scheduler_running=True),
                SourceFactory(session),
            )
            async with TestClient(TestServer(build_app(services))) as client:

                async def post(
                    source: str, body: bytes, headers: dict[str, str]
                ) -> tuple[int, dict[str, object]]:
                    answer = await client.post(f"/v1/sources/{source}/callback", data=body, headers=headers)
                    return answer.status, await answer.json()

                doc = {
                    "delivery": "d1",
                    "at": now,
                    "rows": [["tee", "us1", "out_of_stock"]],
                    "pull_ids": ["P-9"],
                }
                body, headers = signed(doc)
                assert (await post("push1", body, signed(doc, "wrong")[1]))[0] == 401
                assert (await post("nope", body, headers))[0] == 401  # unknown: like a bad signature
                assert await pool.fetchval("SELECT count(*) FROM inbox_events") == 0
                bad, bad_headers = signed({**doc, "rows": [["tee", "us1", "gone"]]})
                status, answer = await post("push1", bad, bad_headers)
                assert status == 400 and answer["field"] == "rows[0].status"
                outside, outside_headers = signed({**doc, "rows": [["tee", "lv1", "out_of_stock"]]})
                assert (await post("push1", outside, outside_headers))[0] == 400
                assert await pool.fetchval("SELECT count(*) FROM inbox_events") == 0

                pull = await client.post("/v1/sources/push1/pull", headers={"Authorization": "Bearer x"})
                assert pull.status == 401  # the admin API needs its bearer token

                status, answer = await post("push1", body, headers)
                assert status == 202
                assert answer == {
                    "source_id": "push1",
                    "new": 1,
                    "applied": 1,
                    "queued": 1,
                    "pull_requested": 1,
                }
                again = await post("push1", body, headers)  # a redelivery
                assert again == (
                    202,
                    {"source_id": "push1", "new": 0, "applied": 0, "queued": 0, "pull_requested": 1},
                )
    assert await pool.fetchval("SELECT status FROM facility_stock WHERE variant_id = 'tee'") == "out_of_stock"
    state = await pool.fetchrow("SELECT pull_requested_at, requested_ids FROM source_state")
    assert state is not None
    assert state["pull_requested_at"] is not None and state["requested_ids"] == ["P-9"]
