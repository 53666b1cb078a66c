"""The contract suite's adapter for woocommerce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, PlatformAdapter, Webhook
from tests.reconcilers.fakes.woocommerce_fake import FakeItem, WooCommerceFake


class WooCommerceAdapter(PlatformAdapter):
    name, key, secret = "woocommerce", "ck_contract", "woo-webhook-secret"

    async def start(self) -> None:
        self.fake = WooCommerceFake(
            consumer_key=self.key, consumer_secret="cs_contract", webhook_secret=self.secret
        )
        await self.fake.start()

    async def stop(self) -> None:
        await self.fake.stop()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.fake.base_url, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        fields = {"consumer_key": self.key, "consumer_secret": WRONG if wrong else "cs_contract"}
        return Secret("c", json.dumps({**fields, "webhook_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return str(number)

    def seed(self, number: int, quantity: int) -> None:
        self.fake.add(FakeItem(number, manage_stock=True, stock_quantity=quantity))

    def seed_unlimited(self, number: int) -> None:
        self.fake.add(FakeItem(number, manage_stock=False, stock_status="instock"))

    def shown(self, number: int) -> int | None:
        return self.fake.items[number].stock_quantity

    def refuse_next_write(self, number: int) -> None:
        self.fake.items[number].parent_id = 999_999  # no longer a simple product: "Invalid ID."

    def throttle_next(self, requests: int) -> None:
        self.fake.throttle_next += [0.0] * requests

    def server_error_next(self, requests: int) -> None:
        self.fake.fail_next += [502] * requests

    def requests(self) -> int:
        return self.fake.stats.requests

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        item = FakeItem(number, manage_stock=True, stock_quantity=quantity)
        item.validate()
        body = json.dumps({**item.as_json(), "date_modified_gmt": self.stamp("%Y-%m-%dT%H:%M:%S")}).encode()
        signature = hmac.new((secret or self.secret).encode(), body, hashlib.sha256).digest()
        headers = {
            "X-WC-Webhook-Topic": "product.updated",
            "X-WC-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        }
        return Webhook(headers, body)
