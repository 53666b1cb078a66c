"""The contract suite's adapter for tiktok: item n is SKU 17293883249870000n alone in product
17295929697120000n, stocked in one warehouse; ids are 19-digit strings as TikTok sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from daemon.credentials import Secret
from tests.contract.adapter import WRONG, ConventionalFakeAdapter, Webhook
from tests.reconcilers.fakes.tiktok_fake import FakeSku, TiktokFake

WAREHOUSE, OTHER_WAREHOUSE = "7068517275539719942", "7068517275539719943"


def product_id(number: int) -> str:
    return f"172959296971200{number:04d}"


def sku_id(number: int) -> str:
    return f"172938832498700{number:04d}"


class TiktokAdapter(ConventionalFakeAdapter):
    name, app_key, secret, token = "tiktok", "tiktok-app-key", "tiktok-app-secret", "TTP_contract_token"
    fake: TiktokFake

    async def start(self) -> None:
        self.fake = TiktokFake(self.app_key, self.secret, self.token)
        await self.fake.start()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.fake.base_url, "auth_url": self.fake.base_url, "requests_per_second": 1000}

    def credential(self, *, wrong: bool = False) -> Secret:
        fields = {
            "app_key": self.app_key,
            "app_secret": self.secret,
            "access_token": WRONG if wrong else self.fake.token,
            "shop_cipher": self.fake.shop_cipher,
        }
        if not wrong:
            fields["refresh_token"] = self.fake.refresh
        return Secret("c", json.dumps(fields))

    def external_id(self, number: int) -> str:
        return f"{product_id(number)}:{sku_id(number)}"

    def seed(self, number: int, quantity: int) -> None:
        self.fake.add(FakeSku(sku_id(number), product_id(number), {WAREHOUSE: quantity}))

    def seed_unlimited(self, number: int) -> None:
        # TikTok has no unlimited stock; the nearest thing a single count cannot hold back is a SKU
        # stocked in two warehouses (every update must restate both)
        self.fake.add(FakeSku(sku_id(number), product_id(number), {WAREHOUSE: 5, OTHER_WAREHOUSE: 5}))

    def shown(self, number: int) -> int | None:
        sku = self.fake.skus.get(sku_id(number))
        return None if sku is None else sum(sku.stock.values())

    def refuse_next_write(self, number: int) -> None:
        self.fake.refused_skus.add(sku_id(number))

    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        # a type 27 notification names the product and SKU; the store shows what it announces
        sku = self.fake.skus.get(sku_id(number))
        if sku is not None:
            sku.stock = {w: quantity for w in sku.stock}
        headers, body = self.fake.webhook(product_id(number), sku_id(number))
        if secret is not None:
            signature = hmac.new(secret.encode(), self.app_key.encode() + body, hashlib.sha256).hexdigest()
            headers = {**headers, "Authorization": signature}
        return Webhook(headers, body)
