"""The contract suite's adapter for bigcartel: item n is option 1000+n, alone in product n."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.bigcartel_fake import BigCartelFake, FakeOption


class BigCartelAdapter(ConventionalFakeAdapter):
    name, token, secret = "bigcartel", "bigcartel-token", "bigcartel-client-secret"
    fake: BigCartelFake

    async def start(self) -> None:
        self.fake = BigCartelFake(self.token, self.secret)
        await self.fake.start()

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.fake.base_url,
            "account_id": self.fake.account_id,
            "user_agent": "stocksync contract suite (dev@example.invalid)",
            "requests_per_second": 1000,
        }

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "client_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"{number}:{1000 + number}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.add(FakeOption(1000 + number, number, quantity))
        self.fake.option(1000 + number).quantity = quantity

    def seed_unlimited(self, number: int) -> None:
        self.fake.add(FakeOption(1000 + number, number, None))

    def shown(self, number: int) -> int | None:
        return self.fake.option(1000 + number).quantity

    def sells(self, number: int) -> bool:
        quantity = self.shown(number)
        return self.fake.products[number].status == "active" and (quantity is None or quantity > 0)

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused_options.add(1000 + number)

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        # the notification names the product; the store shows the quantity it announces
        if number in self.fake.products and 1000 + number in self.fake.products[number].options:
            self.fake.option(1000 + number).quantity = quantity
        payload = {"type": "products", "id": str(number)}
        body = json.dumps({"account_id": self.fake.account_id, "type": "product.updated", "payload": payload})
        signature = hmac.new((secret or self.secret).encode(), body.encode(), hashlib.sha256).hexdigest()
        return Webhook({"X-Webhook-Signature": signature}, body.encode())
