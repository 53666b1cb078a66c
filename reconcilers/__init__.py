"""Store platforms behind one interface; this registry is the only place that lists platforms."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import aiohttp

    from daemon.credentials import Secret
    from daemon.model import StoreConfig
    from reconcilers.interface import Reconciler
    from reconcilers.ratelimit import PacerRegistry
    from reconcilers.transport import RequestRecord, RetryPolicy

_PLATFORMS: dict[str, str] = {  # name -> "module:Class", imported when first used
    "sandbox": "reconcilers.sandbox:SandboxReconciler",
    "shopify": "reconcilers.shopify:ShopifyReconciler",
    "woocommerce": "reconcilers.woocommerce:WooCommerceReconciler",
    "hubrise": "reconcilers.hubrise:HubRiseReconciler",
    "nuvemshop": "reconcilers.nuvemshop:NuvemshopReconciler",
    "ecwid": "reconcilers.ecwid:EcwidReconciler",
    "webflow": "reconcilers.webflow:WebflowReconciler",
    "squarespace": "reconcilers.squarespace:SquarespaceReconciler",
    "square": "reconcilers.square:SquareReconciler",
    "bigcommerce": "reconcilers.bigcommerce:BigCommerceReconciler",
    "magento": "reconcilers.magento:MagentoReconciler",
    "etsy": "reconcilers.etsy:EtsyReconciler",
    "wix": "reconcilers.wix:WixReconciler",
    "weebly": "reconcilers.weebly:WeeblyReconciler",
    "storenvy": "reconcilers.storenvy:StorenvyReconciler",
    "bigcartel": "reconcilers.bigcartel:BigCartelReconciler",
    "tiktok": "reconcilers.tiktok:TiktokReconciler",
    "base": "reconcilers.base:BaseReconciler",
}


def known_platforms() -> frozenset[str]:
    return frozenset(_PLATFORMS)


def reconciler_class(platform: str) -> type[Reconciler]:
    target = _PLATFORMS.get(platform)
    if target is None:
        raise ValueError(f"unknown platform {platform!r} (known: {', '.join(sorted(_PLATFORMS))})")
    module_name, _, class_name = target.partition(":")
    return cast("type[Reconciler]", getattr(import_module(module_name), class_name))


class ReconcilerFactory:
    """Builds a store's reconciler on the shared session with that store's own pacer."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        pacers: PacerRegistry | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        observer: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        from reconcilers.transport_factory import TransportFactory

        self._transports = TransportFactory(
            session, pacers=pacers, retry=retry, timeout_s=timeout_s, observer=observer
        )

    def build(self, store: StoreConfig, credential: Secret) -> Reconciler:
        from reconcilers.interface import ReconcilerContext

        cls = reconciler_class(store.platform)
        transport = self._transports.transport(store.platform, store.id, cls.capabilities.rate_budget)
        reconciler = cls(ReconcilerContext(store, transport, credential))
        # the store's own budget (a reconciler may refine it from settings), kept across passes
        self._transports.keep_pacer(transport, store.id, reconciler.capabilities.rate_budget)
        return reconciler
