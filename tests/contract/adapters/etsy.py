"""The contract suite's adapter for etsy: item n is listing 1000+n with one product, SKU "S<n>"."""

from __future__ import annotations

import base64
import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.etsy_fake import EtsyFake

SHOP = 5550001


def whsec(text: str) -> str:
    """A Standard Webhooks signing secret made from any text (the portal shows whsec_<base64 key>)."""
    return "whsec_" + base64.b64encode(text.encode()).decode()


class EtsyAdapter(ConventionalFakeAdapter):
    server_error_status = 502
    name, token = "etsy", "etsy-access-token"
    secret = whsec("etsy-endpoint-signing-key")
    fake: EtsyFake

    async def start(self) -> None:
        self.fake = EtsyFake("etsy-keystring", "etsy-shared-secret", self.token, SHOP, self.secret)
        self.base = await self.fake.start()
        self.fake.retry_after = "0"

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base,
            "token_url": self.fake.token_url,
            "shop_id": SHOP,
            "requests_per_second": 1000,
            "renew_sold_out": True,  # the suite turns sold-out items back on
        }

    def credential(self, *, wrong: bool = False) -> Secret:
        fields = {
            "keystring": "etsy-keystring",
            "shared_secret": "etsy-shared-secret",
            "access_token": WRONG if wrong else self.token,
            "webhook_secret": self.secret,
        }
        return Secret("c", json.dumps(fields))

    def external_id(self, number: int) -> str:
        return f"{1000 + number}:S{number}"

    def seed(self, number: int, quantity: int) -> None:
        # Etsy marks a listing whose last unit sold "sold_out"; it cannot be set to 0 through the API
        self.fake.seed(1000 + number, [(f"S{number}", quantity)], "active" if quantity > 0 else "sold_out")

    def seed_unlimited(self, number: int) -> None:
        # Etsy has no unlimited stock; the nearest thing a count cannot hold back is a disabled offering
        self.fake.seed(1000 + number, [(f"S{number}", 5)])
        product = self.fake.product(1000 + number, f"S{number}")
        assert product is not None
        product["offerings"][0]["is_enabled"] = False

    def shown(self, number: int) -> int | None:
        listing = self.fake.listings.get(1000 + number)
        quantity = self.fake.quantity(1000 + number, f"S{number}")
        if listing is None or quantity is None:
            return None
        return quantity if listing.state == "active" else 0  # an inactive listing sells nothing

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused_listings.add(1000 + number)

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        # the event names the listing, never a quantity; the store shows the quantity it announces
        if self.shown(number) not in (None, quantity):
            self.seed(number, quantity)
        event = "inventory.out_of_stock" if quantity == 0 else "inventory.updated"
        headers, body = self.fake.signed(event, 1000 + number, whsec(secret) if secret else None)
        return Webhook(headers, body)
