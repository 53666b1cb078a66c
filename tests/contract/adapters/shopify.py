"""The contract suite's adapter for shopify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from daemon.credentials import Secret
from daemon.model import SyncedVariant
from tests.contract.adapter import WRONG, PlatformAdapter, Webhook
from tests.reconcilers.fakes.shopify_fake import ShopifyFake


class ShopifyAdapter(PlatformAdapter):
    name, token, secret = "shopify", "shpat_contract", "shopify-client-secret"

    async def start(self) -> None:
        from reconcilers.shopify import API_VERSION

        # a fast-restoring bucket keeps the suite quick; the pacer learns it from the first answer
        self.fake = ShopifyFake(
            token=self.token, client_secret=self.secret, version=API_VERSION, restore_rate=50_000.0
        )
        await self.fake.start()

    async def stop(self) -> None:
        await self.fake.close()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.fake.base_url, "location_id": "77", "shop_domain": "acme"}

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "client_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"gid://shopify/ProductVariant/{number}"

    def synced(self, number: int, ref: dict[str, Any] | None = None) -> SyncedVariant:
        item = {"inventory_item_id": f"gid://shopify/InventoryItem/{100_000 + number}"}
        return super().synced(number, {**item, **(ref or {})})

    def seed(self, number: int, quantity: int) -> None:
        self.fake.add_variant(number, quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.add_variant(number, 0, tracked=False)

    def shown(self, number: int) -> int | None:
        return self.fake.variants[number].levels.get(77)

    def refuse_next_write(self, number: int) -> None:
        self.fake.variants[number].levels[77] += 1  # a merchant edit since we read: stale compare

    def throttle_next(self, requests: int) -> None:
        self.fake.drain(0.0)  # an empty bucket answers THROTTLED (200) until it restores

    def server_error_next(self, requests: int) -> None:
        self.fake.fail_next += [502] * requests

    def requests(self) -> int:
        return self.fake.stats.requests

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        body = json.dumps(
            {
                "inventory_item_id": 100_000 + number,
                "location_id": 77,
                "available": quantity,
                "updated_at": self.stamp(),
            }
        ).encode()
        digest = hmac.new((secret or self.secret).encode(), body, hashlib.sha256).digest()
        headers = {
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Topic": "inventory_levels/update",
            "X-Shopify-Shop-Domain": "acme.myshopify.com",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        }
        return Webhook(headers, body)
