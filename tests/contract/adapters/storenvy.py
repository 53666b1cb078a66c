"""The contract suite's adapter for storenvy: items 2k and 2k+1 are two variants of one product, so a
product's variants are read together and a notification naming the product re-reads both."""

from __future__ import annotations

import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.storenvy_fake import StorenvyFake


class StorenvyAdapter(ConventionalFakeAdapter):
    name, token, secret = "storenvy", "contract-store-api-key", ""
    unsigned_webhooks = True  # Storenvy documents no webhook signature: bodies only ask for re-reads
    fake: StorenvyFake

    async def start(self) -> None:
        self.fake = StorenvyFake(self.token)
        self.base = await self.fake.start()
        self.fake.retry_after = "0"

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        return Secret("c", json.dumps({"api_key": WRONG if wrong else self.token}))

    def external_id(self, number: int) -> str:
        return f"{100 + number // 2}:{500 + number}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.seed(self.external_id(number), quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.seed(self.external_id(number), None, in_stock=True)

    def shown(self, number: int) -> int | None:
        item = self.fake.variant(self.external_id(number))
        return None if item is None or item.full_quantity is None else int(item.full_quantity)

    def sells(self, number: int) -> bool:
        item = self.fake.variant(self.external_id(number))
        return item is not None and item.in_stock and (item.full_quantity is None or item.full_quantity > 0)

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused.add(self.external_id(number))

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        # the body names the product only (and is unsigned): the store shows what it announces
        if self.fake.variant(self.external_id(number)) is not None:
            self.seed(number, quantity)
        self._sent += 1
        headers, body = self.fake.event(int(self.external_id(number).partition(":")[0]))
        return Webhook(headers, body)
