"""The contract suite's adapter for nuvemshop: item n is variant 1000+n, alone in product n."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.nuvemshop_fake import FakeVariant, NuvemshopFake


class NuvemshopAdapter(ConventionalFakeAdapter):
    name, token, secret = "nuvemshop", "nuvemshop-token", "nuvemshop-app-secret"
    fake: NuvemshopFake

    async def start(self) -> None:
        self.fake = NuvemshopFake(self.token, self.secret)
        self.fake.bucket = 100_000  # a roomy bucket keeps the suite quick; pacing has its own tests
        await self.fake.start()

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.fake.base_url,
            "store_id": self.fake.store_id,
            "user_agent": "stocksync contract suite (dev@example.invalid)",
            "requests_per_second": 1000,
        }

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "client_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"{number}:{1000 + number}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.add(FakeVariant(1000 + number, number, quantity))

    def seed_unlimited(self, number: int) -> None:
        self.fake.add(FakeVariant(1000 + number, number, None))

    def shown(self, number: int) -> int | None:
        return self.fake.variant(1000 + number).stock

    def sells(self, number: int) -> bool:
        stock = self.shown(number)
        return stock is None or stock > 0  # null stock: infinite

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused_variants.add(1000 + number)

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        # the notification names the product only; the store shows the quantity it announces
        if any(1000 + number in p for p in self.fake.products.values()):
            self.fake.variant(1000 + number).stock = quantity
        body = json.dumps(
            {"store_id": int(self.fake.store_id), "event": "product/updated", "id": number}
        ).encode()
        signature = hmac.new((secret or self.secret).encode(), body, hashlib.sha256).hexdigest()
        return Webhook({"X-Linkedstore-HMAC-SHA256": signature}, body)
