"""The contract suite's adapter for ecwid: odd numbers are products without variations, even numbers
are variations of a product of their own (both are written the same way, at different paths)."""

from __future__ import annotations

import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.ecwid_fake import EcwidFake

STORE_ID = "1003"
FIRST_STAMP = 1_795_000_000  # unix seconds; every notification made is one second later


class EcwidAdapter(ConventionalFakeAdapter):
    name, token, secret = "ecwid", "secret_contract-token", "ecwid-client-secret"
    fake: EcwidFake

    async def start(self) -> None:
        self.fake = EcwidFake(self.token, self.secret, STORE_ID)
        self.base = await self.fake.start()
        self.fake.retry_after = "0"
        # a roomy budget: the suite and the benchmark pace at 1,000/s; the fake's own tests check 600/min
        self.fake.requests_per_minute = 1_000_000

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base, "store_id": STORE_ID, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        token = f"secret_{WRONG}" if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "client_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return str(100 + number) if number % 2 else f"{100 + number}:{500 + number}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.seed(self.external_id(number), quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.seed(self.external_id(number), unlimited=True)

    def shown(self, number: int) -> int | None:
        item = self.fake.item(self.external_id(number))
        return None if item is None or item.unlimited else int(item.quantity)

    def sells(self, number: int) -> bool:
        item = self.fake.item(self.external_id(number))
        return item is not None and (item.unlimited or item.quantity > 0)

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused.add(self.external_id(number))

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        # Ecwid's product.updated names the product only: the value is read back from the store,
        # which shows the quantity it announces
        if self.fake.item(self.external_id(number)) is not None:
            self.seed(number, quantity)
        self._sent += 1
        product = int(self.external_id(number).partition(":")[0])
        headers, body = self.fake.event(product, secret=secret, created=FIRST_STAMP + self._sent)
        return Webhook(headers, body)
