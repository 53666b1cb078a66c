"""The registry of contract-suite adapters: one per registered platform, each in
tests/contract/adapters/<platform>.py (test_every_registered_platform_has_an_adapter fails until a new
platform's adapter is listed here).
"""

from __future__ import annotations

from tests.contract.adapter import HUGE, OTHER_SECRET, WRONG, PlatformAdapter, Webhook
from tests.contract.adapters.base import BaseAdapter
from tests.contract.adapters.bigcartel import BigCartelAdapter
from tests.contract.adapters.bigcommerce import BigCommerceAdapter
from tests.contract.adapters.ecwid import EcwidAdapter
from tests.contract.adapters.etsy import EtsyAdapter
from tests.contract.adapters.hubrise import HubRiseAdapter
from tests.contract.adapters.magento import MagentoAdapter
from tests.contract.adapters.nuvemshop import NuvemshopAdapter
from tests.contract.adapters.sandbox import SandboxAdapter
from tests.contract.adapters.shopify import ShopifyAdapter
from tests.contract.adapters.square import SquareAdapter
from tests.contract.adapters.squarespace import SquarespaceAdapter
from tests.contract.adapters.storenvy import StorenvyAdapter
from tests.contract.adapters.tiktok import TiktokAdapter
from tests.contract.adapters.webflow import WebflowAdapter
from tests.contract.adapters.weebly import WeeblyAdapter
from tests.contract.adapters.wix import WixAdapter
from tests.contract.adapters.woocommerce import WooCommerceAdapter

__all__ = ["ADAPTERS", "HUGE", "OTHER_SECRET", "WRONG", "PlatformAdapter", "Webhook"]

ADAPTERS: dict[str, type[PlatformAdapter]] = {
    "sandbox": SandboxAdapter,
    "shopify": ShopifyAdapter,
    "woocommerce": WooCommerceAdapter,
    "hubrise": HubRiseAdapter,
    "nuvemshop": NuvemshopAdapter,
    "ecwid": EcwidAdapter,
    "webflow": WebflowAdapter,
    "squarespace": SquarespaceAdapter,
    "square": SquareAdapter,
    "bigcommerce": BigCommerceAdapter,
    "magento": MagentoAdapter,
    "etsy": EtsyAdapter,
    "wix": WixAdapter,
    "weebly": WeeblyAdapter,
    "storenvy": StorenvyAdapter,
    "bigcartel": BigCartelAdapter,
    "tiktok": TiktokAdapter,
    "base": BaseAdapter,
}
