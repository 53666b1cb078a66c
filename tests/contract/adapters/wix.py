"""The contract suite's adapter for wix (Catalog V3, API-key auth with a site id)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from daemon.credentials import Secret
from tests.contract.adapter import OTHER_SECRET, WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.wix_fake import WIX_STORES_APP, WixFake, sign_jwt


class WixAdapter(ConventionalFakeAdapter):
    name, token, secret = "wix", "wix-api-key", "wix-app-public-key"
    signature_in_body = True
    fake: WixFake

    async def start(self) -> None:
        self.fake = WixFake(self.token, site_id="site-1")
        self.base = await self.fake.start()
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base,
            "site_id": "site-1",
            "location_id": "loc-1",
            "app_id": self.fake.app_id,
            "requests_per_second": 1000,
        }

    def credential(self, *, wrong: bool = False) -> Secret:
        key = WRONG if wrong else self.token
        return Secret("c", json.dumps({"api_key": key, "public_key": self.fake.public_pem}))

    def external_id(self, number: int) -> str:
        return f"var-{number}"

    def _item(self, number: int) -> dict[str, Any] | None:
        return self.fake.items.get(f"item-var-{number}-loc-1")

    def seed(self, number: int, quantity: int) -> None:
        item = self._item(number)
        if item is None:
            self.fake.add_item(self.external_id(number), quantity=quantity)
        else:  # an edit: the revision moves on
            self.fake._set(item, quantity=quantity, in_stock=None)
            item["revision"] += 1

    def seed_unlimited(self, number: int) -> None:
        self.fake.add_item(self.external_id(number), in_stock=True)

    def shown(self, number: int) -> int | None:
        item = self._item(number)
        return None if item is None or not item["trackQuantity"] else int(item["quantity"])

    def sells(self, number: int) -> bool:
        item = self._item(number)
        if item is None:
            return False
        return item["quantity"] > 0 if item["trackQuantity"] else bool(item["inStock"])

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused_ids.add(f"item-var-{number}-loc-1")

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        item = dict(
            self._item(number)
            or {
                "id": f"item-var-{number}-loc-1",
                "revision": 1,
                "variantId": self.external_id(number),
                "locationId": "loc-1",
                "preorderInfo": {"enabled": False},
            }
        )
        item.update(quantity=quantity, trackQuantity=True)
        item.pop("inStock", None)
        # a merchant's edit in the dashboard (our own app's writes come back as echoes: no items)
        body = self.fake.webhook(item, WIX_STORES_APP, event_id=f"evt-{self.stamp()}")
        if secret == OTHER_SECRET:  # signed by another key than the store's app key
            claims = json.loads(_payload(body))
            body = sign_jwt(self.other_key, claims)
        return Webhook({"Content-Type": "text/plain"}, body)


def _payload(token: bytes) -> bytes:
    import base64

    part = token.split(b".")[1]
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))
