"""The contract suite's adapter for sandbox."""

from __future__ import annotations

import json
import uuid
from typing import Any

from daemon.credentials import Secret
from sandbox_store.server import SandboxStore, sign_webhook
from sandbox_store.state import SandboxConfig, SandboxItem, now_iso
from tests.contract.adapter import WRONG, PlatformAdapter, Webhook


class SandboxAdapter(PlatformAdapter):
    name, token, secret = "sandbox", "sandbox-token", "sandbox-webhook-secret"

    async def start(self) -> None:
        self.store = SandboxStore(SandboxConfig(token=self.token))
        self.base = await self.store.start()

    async def stop(self) -> None:
        await self.store.stop()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"token": token, "webhook_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"item-{number}"

    def seed(self, number: int, quantity: int) -> None:
        item = SandboxItem(self.external_id(number), quantity > 0, quantity, now_iso())
        self.store.items[item.external_id] = item

    def seed_unlimited(self, number: int) -> None:
        item = SandboxItem(self.external_id(number), True, None, now_iso())
        self.store.items[item.external_id] = item

    def shown(self, number: int) -> int | None:
        return self.store.items[self.external_id(number)].quantity

    def sells(self, number: int) -> bool:
        return self.store.items[self.external_id(number)].available

    def refuse_next_write(self, number: int) -> None:
        self.store.faults.fail_items[self.external_id(number)] = "permanent"

    def throttle_next(self, requests: int) -> None:
        self.store.faults.next_statuses += [429] * requests

    def server_error_next(self, requests: int) -> None:
        self.store.faults.next_statuses += [503] * requests

    def requests(self) -> int:
        return sum(n for route, n in self.store.stats.requests.items() if " /api/" in route)

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        item = SandboxItem(self.external_id(number), quantity > 0, quantity, now_iso())
        body = json.dumps(
            {"topic": "item.updated", "item": item.to_json(), "origin": "merchant", "sent_at": now_iso()}
        ).encode()
        headers = {
            "X-Sandbox-Hmac-Sha256": sign_webhook(secret or self.secret, body),
            "X-Sandbox-Delivery-Id": uuid.uuid4().hex,
        }
        return Webhook(headers, body)
