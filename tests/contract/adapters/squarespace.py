"""The contract suite's adapter for squarespace (no store notifications: the webhook cases skip)."""

from __future__ import annotations

import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.squarespace_fake import SquarespaceFake


class SquarespaceAdapter(ConventionalFakeAdapter):
    name, token, secret = "squarespace", "squarespace-api-key", ""
    fake: SquarespaceFake

    async def start(self) -> None:
        self.fake = SquarespaceFake(self.token)
        self.base = await self.fake.start()
        # undocumented knobs that keep the suite fast: the documented cool-down is a whole minute
        self.fake.retry_after, self.fake.cool_down_s = "0", 0.0

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        return Secret("c", json.dumps({"access_token": WRONG if wrong else self.token}))

    def external_id(self, number: int) -> str:
        return f"0b7e3c1a-5d2f-4c6e-9a8b-{number:012d}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.seed(self.external_id(number), quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.seed(self.external_id(number), None)

    def shown(self, number: int) -> int | None:
        item = self.fake.items.get(self.external_id(number))
        return None if item is None or item["isUnlimited"] else int(item["quantity"])

    def sells(self, number: int) -> bool:
        item = self.fake.items.get(self.external_id(number))
        return item is not None and (item["isUnlimited"] or item["quantity"] > 0)

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused.add(self.external_id(number))

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        raise AssertionError("squarespace sends no stock notifications: the webhook cases skip")
