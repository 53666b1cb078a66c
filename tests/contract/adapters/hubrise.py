"""The contract suite's adapter for hubrise."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.hubrise_fake import HubRiseFake


class HubRiseAdapter(ConventionalFakeAdapter):
    server_error_status = 502
    name, token, secret = "hubrise", "hubrise-token", "hubrise-client-secret"
    fake: HubRiseFake

    async def start(self) -> None:
        self.fake = HubRiseFake(self.token, self.secret, "cat1", "loc-1")
        self.base = await self.fake.start()
        self.fake.retry_after = "0"

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base,
            "catalog_id": "cat1",
            "location_id": "loc-1",
            "requests_per_second": 1000,
        }

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "client_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"sku:S{number}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.inventory[("sku_ref", f"S{number}")] = str(quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.inventory.pop(("sku_ref", f"S{number}"), None)  # no entry = unlimited

    def shown(self, number: int) -> int | None:
        stock = self.fake.inventory.get(("sku_ref", f"S{number}"))
        return None if stock is None else int(stock)

    def sells(self, number: int) -> bool:
        stock = self.fake.inventory.get(("sku_ref", f"S{number}"))
        return stock is None or float(stock) > 0  # no entry: unlimited

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused_refs.add(f"S{number}")

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        body = json.dumps(
            {
                "id": uuid.uuid4().hex[:10],
                "resource_type": "inventory",
                "event_type": "patch",
                "created_at": self.stamp(),
                "catalog_id": "cat1",
                "location_id": "loc-1",
                "state_change": [{"sku_ref": f"S{number}", "stock": str(quantity)}],
            }
        ).encode()
        signature = hmac.new((secret or self.secret).encode(), body, hashlib.sha256).hexdigest()
        return Webhook({"X-HubRise-Hmac-SHA256": signature}, body)
