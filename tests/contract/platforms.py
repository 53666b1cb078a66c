"""One adapter per registered platform: how the contract suite starts its local fake, seeds items,
injects faults and makes a signed store notification. A new platform joins the suite by adding its
adapter to ADAPTERS (test_every_registered_platform_has_an_adapter fails until it does).

Every fake listens on 127.0.0.1 only. Items are numbered 1..n; each adapter maps a number to the
platform's external id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.credentials import Secret
from daemon.model import SyncedVariant
from sandbox_store.server import SandboxStore, sign_webhook
from sandbox_store.state import SandboxConfig, SandboxItem, now_iso
from tests.reconcilers.fakes.hubrise_fake import HubRiseFake
from tests.reconcilers.fakes.shopify_fake import ShopifyFake
from tests.reconcilers.fakes.woocommerce_fake import FakeItem, WooCommerceFake

HUGE = 3_000_000_000  # a merchant's typo: beyond a PostgreSQL integer
OTHER_SECRET = "another-stores-webhook-secret"
WRONG = "rotated-credential-9f3a"  # a credential the store no longer accepts


@dataclass(frozen=True)
class Webhook:
    headers: dict[str, str]
    body: bytes


class PlatformAdapter(ABC):
    """What the contract suite needs from one platform's fake; nothing else is platform-specific."""

    name: str
    secret: str  # the webhook / client secret of the store under test

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Store settings pointing at the fake (pacing refined so tests do not wait on a real budget)."""

    @abstractmethod
    def credential(self, *, wrong: bool = False) -> Secret: ...

    @abstractmethod
    def external_id(self, number: int) -> str: ...

    @abstractmethod
    def seed(self, number: int, quantity: int) -> None:
        """An item the store counts (available iff quantity > 0)."""

    @abstractmethod
    def seed_unlimited(self, number: int) -> None:
        """An item the store sells without a count, in the platform's own encoding."""

    @abstractmethod
    def shown(self, number: int) -> int | None:
        """The count the store holds now (None: no count)."""

    def sells(self, number: int) -> bool:
        """Whether the storefront sells the item now."""
        return (self.shown(number) or 0) > 0

    @abstractmethod
    def refuse_next_write(self, number: int) -> None:
        """The store will refuse writes of this item (a permanent per-item error)."""

    @abstractmethod
    def throttle_next(self, requests: int) -> None:
        """The platform's own throttle signal for the next requests."""

    @abstractmethod
    def server_error_next(self, requests: int) -> None: ...

    @abstractmethod
    def requests(self) -> int:
        """API requests the fake has received so far."""

    @abstractmethod
    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        """The store's signed notification that item `number` now shows `quantity`."""

    def synced(self, number: int, ref: dict[str, Any] | None = None) -> SyncedVariant:
        return SyncedVariant("c1", self.external_id(number), f"u{number}", ref)

    _sent = 0

    def stamp(self, fmt: str = "%Y-%m-%dT%H:%M:%S%z") -> str:
        """A later time for every notification made (a replay repeats the body, hence its time)."""
        self._sent += 1
        return (datetime(2026, 11, 23, 9, 0, tzinfo=UTC) + timedelta(seconds=self._sent)).strftime(fmt)


class SandboxAdapter(PlatformAdapter):
    name, token, secret = "sandbox", "sandbox-token", "sandbox-webhook-secret"

    async def start(self) -> None:
        self.store = SandboxStore(SandboxConfig(token=self.token))
        self.base = await self.store.start()

    async def stop(self) -> None:
        await self.store.stop()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"token": token, "webhook_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"item-{number}"

    def seed(self, number: int, quantity: int) -> None:
        item = SandboxItem(self.external_id(number), quantity > 0, quantity, now_iso())
        self.store.items[item.external_id] = item

    def seed_unlimited(self, number: int) -> None:
        item = SandboxItem(self.external_id(number), True, None, now_iso())
        self.store.items[item.external_id] = item

    def shown(self, number: int) -> int | None:
        return self.store.items[self.external_id(number)].quantity

    def sells(self, number: int) -> bool:
        return self.store.items[self.external_id(number)].available

    def refuse_next_write(self, number: int) -> None:
        self.store.faults.fail_items[self.external_id(number)] = "permanent"

    def throttle_next(self, requests: int) -> None:
        self.store.faults.next_statuses += [429] * requests

    def server_error_next(self, requests: int) -> None:
        self.store.faults.next_statuses += [503] * requests

    def requests(self) -> int:
        return sum(n for route, n in self.store.stats.requests.items() if " /api/" in route)

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        item = SandboxItem(self.external_id(number), quantity > 0, quantity, now_iso())
        body = json.dumps(
            {"topic": "item.updated", "item": item.to_json(), "origin": "merchant", "sent_at": now_iso()}
        ).encode()
        headers = {
            "X-Sandbox-Hmac-Sha256": sign_webhook(secret or self.secret, body),
            "X-Sandbox-Delivery-Id": uuid.uuid4().hex,
        }
        return Webhook(headers, body)


class ShopifyAdapter(PlatformAdapter):
    name, token, secret = "shopify", "shpat_contract", "shopify-client-secret"

    async def start(self) -> None:
        from reconcilers.shopify import API_VERSION

        # a fast-restoring bucket keeps the suite quick; the pacer learns it from the first answer
        self.fake = ShopifyFake(
            token=self.token, client_secret=self.secret, version=API_VERSION, restore_rate=50_000.0
        )
        await self.fake.start()

    async def stop(self) -> None:
        await self.fake.close()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.fake.base_url, "location_id": "77", "shop_domain": "acme"}

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "client_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"gid://shopify/ProductVariant/{number}"

    def synced(self, number: int, ref: dict[str, Any] | None = None) -> SyncedVariant:
        item = {"inventory_item_id": f"gid://shopify/InventoryItem/{100_000 + number}"}
        return super().synced(number, {**item, **(ref or {})})

    def seed(self, number: int, quantity: int) -> None:
        self.fake.add_variant(number, quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.add_variant(number, 0, tracked=False)

    def shown(self, number: int) -> int | None:
        return self.fake.variants[number].levels.get(77)

    def refuse_next_write(self, number: int) -> None:
        self.fake.variants[number].levels[77] += 1  # a merchant edit since we read: stale compare

    def throttle_next(self, requests: int) -> None:
        self.fake.drain(0.0)  # an empty bucket answers THROTTLED (200) until it restores

    def server_error_next(self, requests: int) -> None:
        self.fake.fail_next += [502] * requests

    def requests(self) -> int:
        return self.fake.stats.requests

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        body = json.dumps(
            {
                "inventory_item_id": 100_000 + number,
                "location_id": 77,
                "available": quantity,
                "updated_at": self.stamp(),
            }
        ).encode()
        digest = hmac.new((secret or self.secret).encode(), body, hashlib.sha256).digest()
        headers = {
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Topic": "inventory_levels/update",
            "X-Shopify-Shop-Domain": "acme.myshopify.com",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        }
        return Webhook(headers, body)


class WooCommerceAdapter(PlatformAdapter):
    name, key, secret = "woocommerce", "ck_contract", "woo-webhook-secret"

    async def start(self) -> None:
        self.fake = WooCommerceFake(
            consumer_key=self.key, consumer_secret="cs_contract", webhook_secret=self.secret
        )
        await self.fake.start()

    async def stop(self) -> None:
        await self.fake.stop()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.fake.base_url, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        fields = {"consumer_key": self.key, "consumer_secret": WRONG if wrong else "cs_contract"}
        return Secret("c", json.dumps({**fields, "webhook_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return str(number)

    def seed(self, number: int, quantity: int) -> None:
        self.fake.add(FakeItem(number, manage_stock=True, stock_quantity=quantity))

    def seed_unlimited(self, number: int) -> None:
        self.fake.add(FakeItem(number, manage_stock=False, stock_status="instock"))

    def shown(self, number: int) -> int | None:
        return self.fake.items[number].stock_quantity

    def refuse_next_write(self, number: int) -> None:
        self.fake.items[number].parent_id = 999_999  # no longer a simple product: "Invalid ID."

    def throttle_next(self, requests: int) -> None:
        self.fake.throttle_next += [0.0] * requests

    def server_error_next(self, requests: int) -> None:
        self.fake.fail_next += [502] * requests

    def requests(self) -> int:
        return self.fake.stats.requests

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        item = FakeItem(number, manage_stock=True, stock_quantity=quantity)
        item.validate()
        body = json.dumps({**item.as_json(), "date_modified_gmt": self.stamp("%Y-%m-%dT%H:%M:%S")}).encode()
        signature = hmac.new((secret or self.secret).encode(), body, hashlib.sha256).digest()
        headers = {
            "X-WC-Webhook-Topic": "product.updated",
            "X-WC-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        }
        return Webhook(headers, body)


class HubRiseAdapter(PlatformAdapter):
    name, token, secret = "hubrise", "hubrise-token", "hubrise-client-secret"

    async def start(self) -> None:
        self.fake = HubRiseFake(self.token, self.secret, "cat1", "loc-1")
        self.base = await self.fake.start()
        self.fake.retry_after = "0"

    async def stop(self) -> None:
        await self.fake.stop()

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base,
            "catalog_id": "cat1",
            "location_id": "loc-1",
            "requests_per_second": 1000,
        }

    def credential(self, *, wrong: bool = False) -> Secret:
        token = WRONG if wrong else self.token
        return Secret("c", json.dumps({"access_token": token, "client_secret": self.secret}))

    def external_id(self, number: int) -> str:
        return f"sku:S{number}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.inventory[("sku_ref", f"S{number}")] = str(quantity)

    def seed_unlimited(self, number: int) -> None:
        self.fake.inventory.pop(("sku_ref", f"S{number}"), None)  # no entry = unlimited

    def shown(self, number: int) -> int | None:
        stock = self.fake.inventory.get(("sku_ref", f"S{number}"))
        return None if stock is None else int(stock)

    def sells(self, number: int) -> bool:
        stock = self.fake.inventory.get(("sku_ref", f"S{number}"))
        return stock is None or float(stock) > 0  # no entry: unlimited

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused_refs.add(f"S{number}")

    def throttle_next(self, requests: int) -> None:
        self.fake.throttle_next += requests

    def server_error_next(self, requests: int) -> None:
        self.fake.fail_next += [502] * requests

    def requests(self) -> int:
        return self.fake.stats.requests

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        body = json.dumps(
            {
                "id": uuid.uuid4().hex[:10],
                "resource_type": "inventory",
                "event_type": "patch",
                "created_at": self.stamp(),
                "catalog_id": "cat1",
                "location_id": "loc-1",
                "state_change": [{"sku_ref": f"S{number}", "stock": str(quantity)}],
            }
        ).encode()
        signature = hmac.new((secret or self.secret).encode(), body, hashlib.sha256).hexdigest()
        return Webhook({"X-HubRise-Hmac-SHA256": signature}, body)


ADAPTERS: dict[str, type[PlatformAdapter]] = {
    "sandbox": SandboxAdapter,
    "shopify": ShopifyAdapter,
    "woocommerce": WooCommerceAdapter,
    "hubrise": HubRiseAdapter,
}
