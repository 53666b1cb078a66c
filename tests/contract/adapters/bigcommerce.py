"""The contract suite's adapter for bigcommerce: item n is product n (tracked per variant) with one
variant n*100, external id "n:n*100", at the default location 1."""

from __future__ import annotations

import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.bigcommerce_fake import BigCommerceFake, sign


class BigCommerceAdapter(ConventionalFakeAdapter):
    server_error_status = 502
    name, token, secret = "bigcommerce", "bc-contract-token", "bc-client-secret"
    fake: BigCommerceFake

    async def start(self) -> None:
        self.fake = BigCommerceFake(self.token, self.secret, "store1")
        await self.fake.start()
        self.fake.throttle_reset_ms = 20  # the announced refill: short, so the suite stays quick

    def settings(self) -> dict[str, Any]:
        return {"store_hash": "store1", "base_url": self.fake.base_url, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "client_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"{number}:{number * 100}"

    def _product(self, number: int, tracking: str) -> None:
        if number not in self.fake.products:
            self.fake.add_product(number, tracking)
        self.fake.products[number].inventory_tracking = tracking

    def seed(self, number: int, quantity: int) -> None:
        self._product(number, "variant")
        self.fake.set_level(number, number * 100, quantity)

    def seed_unlimited(self, number: int) -> None:
        self._product(number, "none")

    def shown(self, number: int) -> int | None:
        product, level = self.fake.products.get(number), self.fake.level(number, number * 100)
        if product is None or product.inventory_tracking == "none" or level is None:
            return None
        return level.on_hand - level.safety_stock

    def sells(self, number: int) -> bool:
        product, level = self.fake.products.get(number), self.fake.level(number, number * 100)
        if product is not None and product.inventory_tracking == "none":
            return True  # untracked: sold without a count
        return level is not None and level.is_in_stock and level.on_hand - level.safety_stock > 0

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused.add(number * 100)

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        # BigCommerce's stock_changed body names the item only: the count is read back (reread)
        headers, body = self.fake.stock_changed(number, number * 100)
        if secret is not None:
            headers = sign(secret, body)
        return Webhook(headers, body)
