"""The contract suite's adapter for webflow."""

from __future__ import annotations

import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, PlatformAdapter, Webhook
from tests.reconcilers.fakes.webflow_fake import Inventory, WebflowFake

COLLECTION = "6377a7c4b7a79608c34a46f7"


def sku(number: int) -> str:
    return f"{number:024x}"  # an ObjectId-shaped SKU item id


class WebflowAdapter(PlatformAdapter):
    name, token, secret = "webflow", "webflow-site-token", "webflow-webhook-secret"

    async def start(self) -> None:
        self.fake = WebflowFake(self.token, self.secret, COLLECTION)
        self.base = await self.fake.start()
        self.fake.retry_after = "0"
        self.fake.rate_limit = 100_000

    async def stop(self) -> None:
        await self.fake.stop()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base, "sku_collection_id": COLLECTION, "requests_per_minute": 60_000}

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "webhook_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return sku(number)

    def seed(self, number: int, quantity: int) -> None:
        self.fake.skus[sku(number)] = Inventory("finite", quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.skus[sku(number)] = Inventory("infinite", 0)

    def shown(self, number: int) -> int | None:
        inventory = self.fake.skus[sku(number)]
        return None if inventory.inventory_type == "infinite" else int(inventory.quantity)

    def sells(self, number: int) -> bool:
        inventory = self.fake.skus[sku(number)]
        return inventory.inventory_type == "infinite" or inventory.quantity > 0

    def refuse_next_write(self, number: int) -> None:
        del self.fake.skus[sku(number)]  # the SKU was deleted in Webflow: 404 for good

    def throttle_next(self, requests: int) -> None:
        self.fake.throttle_next += requests

    def server_error_next(self, requests: int) -> None:
        self.fake.fail_next += [500] * requests  # internal_error, as documented

    def requests(self) -> int:
        return self.fake.stats.requests

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        headers, body = self.fake.signed_webhook(sku(number), Inventory("finite", quantity), secret=secret)
        return Webhook(headers, body)
