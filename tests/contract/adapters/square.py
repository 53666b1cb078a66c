"""The contract suite's adapter for square."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.square_fake import SquareFake

LOCATION = "L8LOCATION1"
NOTIFICATION_URL = "https://stocksync.example.com/v1/stores/c1/webhook"  # as subscribed in Square


class SquareAdapter(ConventionalFakeAdapter):
    name, token, secret = "square", "EAAAsquare-contract-token", "square-signature-key"
    fake: SquareFake

    async def start(self) -> None:
        self.fake = SquareFake(self.token, self.secret, LOCATION)
        self.base = await self.fake.start()

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base,
            "location_id": LOCATION,
            "notification_url": NOTIFICATION_URL,
            "requests_per_second": 1000,
        }

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "signature_key": self.secret}))

    def external_id(self, number: int) -> str:
        return f"VARIATION{number:06d}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.add(self.external_id(number), str(quantity))

    def seed_unlimited(self, number: int) -> None:
        self.fake.add(self.external_id(number), None, tracked=False)  # untracked: sells without a count

    def shown(self, number: int) -> int | None:
        count = self.fake.counts.get(self.external_id(number))
        return None if count is None else int(Decimal(count))

    def sells(self, number: int) -> bool:
        return self.fake.sells(self.external_id(number))

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused_ids.add(self.external_id(number))

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        count = {
            "catalog_object_id": self.external_id(number),
            "catalog_object_type": "ITEM_VARIATION",
            "state": "IN_STOCK",
            "location_id": LOCATION,
            "quantity": str(quantity),
            "calculated_at": self.stamp("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        body = json.dumps(
            {
                "merchant_id": "MERCHANT1",
                "type": "inventory.count.updated",
                "event_id": str(uuid.uuid4()),
                "created_at": self.stamp("%Y-%m-%dT%H:%M:%S.000Z"),
                "data": {
                    "type": "inventory",
                    "id": uuid.uuid4().hex,
                    "object": {"inventory_counts": [count]},
                },
            }
        ).encode()
        signature = self.fake.sign(body, key=secret or self.secret, url=NOTIFICATION_URL)
        return Webhook({"x-square-hmacsha256-signature": signature}, body)
