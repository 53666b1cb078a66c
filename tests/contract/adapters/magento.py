"""The contract suite's adapter for magento (MSI source items at the `default` source)."""

from __future__ import annotations

import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, PlatformAdapter, Webhook
from tests.reconcilers.fakes.magento_fake import FakeProduct, MagentoFake


class MagentoAdapter(PlatformAdapter):
    name, token, secret = "magento", "magento-integration-token", ""

    async def start(self) -> None:
        self.fake = MagentoFake(self.token)
        await self.fake.start()

    async def stop(self) -> None:
        await self.fake.stop()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.fake.base_url, "source_code": "default", "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        return Secret("c", json.dumps({"access_token": WRONG if wrong else self.token}))

    def external_id(self, number: int) -> str:
        return f"MG-{number}"

    def seed(self, number: int, quantity: int) -> None:
        sku = self.external_id(number)
        if sku.lower() not in self.fake.products:
            self.fake.add(FakeProduct(sku))
        self.fake.set_item(sku, "default", quantity, 1 if quantity > 0 else 0)

    def seed_unlimited(self, number: int) -> None:
        sku = self.external_id(number)
        self.fake.add(FakeProduct(sku, manage_stock=False), default=(0, 1))

    def shown(self, number: int) -> int | None:
        item = self.fake.item(self.external_id(number))
        return None if item is None else int(item["quantity"])

    def sells(self, number: int) -> bool:
        item = self.fake.item(self.external_id(number))
        product = self.fake.products.get(self.external_id(number).lower())
        if product is not None and not product.manage_stock:
            return True
        return item is not None and item["status"] == 1 and item["quantity"] > 0

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused_skus.add(self.external_id(number))

    def throttle_next(self, requests: int) -> None:
        self.fake.throttle_next += [0.0] * requests

    def server_error_next(self, requests: int) -> None:
        self.fake.fail_next += [503] * requests

    def requests(self) -> int:
        return self.fake.stats.requests

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        raise NotImplementedError("Magento Open Source sends no store notifications")
