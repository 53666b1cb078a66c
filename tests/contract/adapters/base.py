"""The contract suite's adapter for BASE (no store notifications: the webhook cases skip).

Items are numbered n → BASE item 1000+n without variations (external id '<item_id>'). BASE has no
unlimited stock; the nearest thing a count cannot hold back is an item with variations synced by its
item id alone (its stock is their sum and cannot be written), which must come back a problem."""

from __future__ import annotations

import json
import time
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.base_fake import BaseFake


def _just_before_the_hour() -> float:
    """The fake's clock: a quota answer's wait (until the next round hour on the store's clock, its
    Date header) is then about a second, so the throttle case stays fast."""
    now = time.time()
    return now - now % 3600 + 3599.5


class BaseAdapter(ConventionalFakeAdapter):
    name, secret = "base", ""
    fake: BaseFake
    client = {
        "client_id": "base-client",
        "client_secret": "base-client-secret-1",
        "redirect_uri": "https://x/cb",
    }
    refresh = "base-refresh-token-1"

    async def start(self) -> None:
        c = self.client
        self.fake = BaseFake(c["client_id"], c["client_secret"], c["redirect_uri"], self.refresh)
        self.base = await self.fake.start()
        self.fake.now = _just_before_the_hour

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        refresh = WRONG if wrong else self.refresh
        access = WRONG if wrong else self.fake.issue()
        return Secret("c", json.dumps(self.client | {"refresh_token": refresh, "access_token": access}))

    def external_id(self, number: int) -> str:
        return str(1000 + number)

    def seed(self, number: int, quantity: int) -> None:
        self.fake.seed(1000 + number, quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.seed(1000 + number, variations={1: 3, 2: 4})

    def shown(self, number: int) -> int | None:
        return self.fake.stock(1000 + number)

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused.add(1000 + number)

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        raise AssertionError("base sends no store notifications: the webhook cases skip")
