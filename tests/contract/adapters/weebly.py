"""The contract suite's adapter for weebly: item n is SKU 500+n of product 100+n (every SKU is written
on its own path, so one SKU per product is as general as several)."""

from __future__ import annotations

import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.weebly_fake import WeeblyFake

SITE_ID = "987654321"
FIRST_STAMP = 1_795_000_000  # unix seconds; every notification made is one second later


class WeeblyAdapter(ConventionalFakeAdapter):
    name, token, secret = "weebly", "contract-weebly-token", "weebly-app-secret"
    signature_in_body = True  # the hmac is a field of the body
    fake: WeeblyFake

    async def start(self) -> None:
        self.fake = WeeblyFake(self.token, self.secret, SITE_ID)
        self.base = await self.fake.start()
        self.fake.retry_after = "0"

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base, "site_id": SITE_ID, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "client_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"{100 + number}:{500 + number}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.seed(self.external_id(number), quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.seed(self.external_id(number), None)

    def shown(self, number: int) -> int | None:
        sku = self.fake.sku(self.external_id(number))
        return None if sku is None else sku.inventory

    def sells(self, number: int) -> bool:
        sku = self.fake.sku(self.external_id(number))
        return sku is not None and (sku.inventory is None or sku.inventory > 0)

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused.add(self.external_id(number))

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        # store.product.update names the product only: the value is read back from the store, which
        # shows the quantity it announces
        if self.fake.sku(self.external_id(number)) is not None:
            self.seed(number, quantity)
        self._sent += 1
        product = self.external_id(number).partition(":")[0]
        headers, body = self.fake.event(product, secret=secret, timestamp=FIRST_STAMP + self._sent)
        return Webhook(headers, body)
