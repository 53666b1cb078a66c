"""Wix Stores (REST, Catalog V3 Inventory Items): translates our Observed/Change to inventory items.

Two catalog generations exist and a site runs exactly one (V1 sites migrate to V3, never back):
`GET /stores/v3/provision/version` tells which, once per reconciler, unless the store setting
`catalog_version` ("V3" | "V1") says it. V3 is fully supported. V1 sites are read-safe and refused:
every synced variant there is reported as a problem (never read as a value, never written).

V3 stock model: one inventory item per (variant, location). External ids are variant ids; the item we
own is the one at `settings.location_id`, or the variant's only item when no location is set (a
variant stocked at several locations without a location_id is a problem). An item is tracked either
by `quantity` (a count; may be negative after paid orders) or by `inStock` (a flag; `inStock: true`
sells without a count, i.e. unlimited). Pre-orders sell past 0: a problem, never written.
- status mode keeps the tracking method: counts get `in_stock_quantity` (default the POD quantity) or
  0; flags get `inStock` true/false. Quantity mode writes `quantity` (a flag item becomes counted).
- writes: `POST /stores/v3/bulk/inventory-items/update`, up to 1,000 items, each with the `revision`
  we read: compare-and-set. A stale revision is a merchant's edit since we read: that item fails
  permanently (its own webhook or the next pass reports the drift). The docs list 428 for it without
  saying whether per item or for the whole call; a whole-call 428 is resolved by re-reading the
  batch once: items whose revision moved fail permanently, the others are retried (temporary).
- webhooks: the body is an RS256 JWT (reconcilers/wix_webhook.py); `inventory_item_updated` and
  `..._updated_with_reason` carry the item. A change made by our own app (identity `appId` =
  settings `app_id`) is our echo: it names no item, so it can never read as drift.
Notes vs docs: quantity bounds are -100,000..1,000,000 in the REST reference (notes: ±99,999).
Every request goes through the shared transport. Documentation read 2026-12-07: reconcilers/sources/wix.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import chunked, merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, RateWindow, Refinement, StockModel
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.observations import unenforceable
from reconcilers.pagination import cursor_pages
from reconcilers.settings import StoreSettings, refined
from reconcilers.transport import AuthError, PermanentError, TemporaryError, TransportError
from reconcilers.webhook_json import webhook_time
from reconcilers.wix_items import ITEM, REVISION, as_observed, dig, entry_for, mapped, usable_ref
from reconcilers.wix_webhook import envelope, public_key, verify_jwt

DEFAULT_BASE_URL = "https://www.wixapis.com"
VERSION_PATH = "/stores/v3/provision/version"
QUERY_PATH = "/stores/v3/inventory-items/query"
UPDATE_PATH = "/stores/v3/bulk/inventory-items/update"
PAGE_LIMIT = 1000  # cursorPaging.limit maximum
V3, V1 = "V3_CATALOG", "V1_CATALOG"
_VERSIONS = {"V3": V3, "V1": V1}
_ITEM_EVENTS = frozenset(
    {
        "wix.stores.catalog.v3.inventory_item_updated",
        "wix.stores.catalog.v3.inventory_item_updated_with_reason",
    }
)
_REFUSED = {
    V1: "Wix Catalog V1 site: stocksync writes Catalog V3 inventory only (not read, not written)",
    "STORES_NOT_INSTALLED": "Wix Stores is not installed on this site",
}


class WixReconciler:
    """Reads items with the V3 inventory query and writes them with bulk update (revision-checked)."""

    capabilities: Capabilities = Capabilities(
        platform="wix",
        stock_model=StockModel.BOTH,
        max_read_batch=100,  # variant ids per query filter (our choice: no documented $in cap)
        max_write_batch=1000,  # bulk update: 1-1000 inventory items
        rate_budget=RateBudget(
            requests_per_second=200 / 60,  # 200 requests per minute per app instance (site)
            burst=5,
            windows=(RateWindow(200, 60, aligned=False),),  # not said to be a round minute
        ),
        webhook_scheme="the whole body is an RS256 JWT signed by Wix (app public key); no signature header",
        compare_and_set=True,
        notification_ref=ITEM,  # events name the inventory item (one per variant × location)
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT, Refinement.PAGE_SIZE}),
        unlimited="inStock: true (in-stock tracking sells without a quantity limit)",
        source=(
            "dev.wix.com REST: Catalog V3 Inventory Items (object, query, bulk update), Catalog "
            "Versioning, Rate Limits, About Webhooks / webhook structure (read 2026-12-07)"
        ),
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._base = settings.base_url(default=DEFAULT_BASE_URL, https=True)
        self._transport = context.transport
        self.capabilities = refined(type(self).capabilities, settings)
        self._location = _optional_id(settings, "location_id", "a Wix location id")
        self._app_id = _optional_id(settings, "app_id", "our Wix app id")
        self._instance_id = _optional_id(settings, "instance_id", "the app instance id")
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        version = settings.get("catalog_version")
        if version is not None and version not in _VERSIONS:
            raise ConfigError(settings.key("catalog_version"), "must be 'V3' or 'V1' (absent: detected)")
        self._version: str | None = _VERSIONS.get(version) if version else None
        keys = credential_fields(context, [], ["api_key", "access_token", "public_key"])
        token = keys["api_key"] or keys["access_token"]
        if token is None:
            raise CredentialError(
                f"credential {context.credential.name!r}: 'api_key' or 'access_token' needed"
            )
        self._headers = {"Authorization": token}
        if keys["api_key"]:  # API keys act on a site named by header
            self._headers["wix-site-id"] = settings.ident("site_id", "the Wix site id (API key auth)")
        self._key = public_key(keys["public_key"]) if keys["public_key"] else None
        if keys["public_key"] and self._key is None:
            raise CredentialError(
                f"credential {context.credential.name!r}: 'public_key' is not an RSA PEM key"
            )

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        ids = list(dict.fromkeys(v.external_id for v in variants))
        version = await self._catalog()
        if version != V3:
            return [unenforceable(eid, _REFUSED.get(version, f"Wix catalog {version}")) for eid in ids]
        observed: list[Observed] = []
        for chunk in chunked(ids, self.capabilities.max_read_batch):
            found: dict[str, list[Mapping[str, Any]]] = {}
            for item in await self._items(chunk):
                found.setdefault(str(item.get("variantId")), []).append(item)
            for eid in chunk:
                items = found.get(eid, [])
                if len(items) > 1:
                    why = f"stocked at {len(items)} Wix locations: set settings.location_id"
                    observed.append(unenforceable(eid, why))
                elif items:
                    observed.append(as_observed(eid, items[0]))
        return observed

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        version = await self._catalog()
        if version != V3:
            reason = _REFUSED.get(version, f"Wix catalog {version}")
            return ApplyResult(failed=tuple(ItemFailure(c.external_id, reason, problem=True) for c in batch))
        refused = [ItemFailure(c.external_id, bad, permanent=True) for c in batch if (bad := usable_ref(c))]
        sent = [c for c in batch if usable_ref(c) is None]
        if not sent:
            return ApplyResult(failed=tuple(refused))
        body = {"inventoryItems": [entry_for(c, self._in_stock_quantity) for c in sent], "returnEntity": True}
        try:
            response = await self._post(UPDATE_PATH, body)
        except AuthError:
            raise
        except PermanentError as exc:
            if exc.status != 428:
                raise
            return merge_results([ApplyResult(failed=tuple(refused)), await self._stale(sent, exc)])
        return merge_results([ApplyResult(failed=tuple(refused)), mapped(sent, response.body)])

    async def _stale(self, sent: Sequence[Change], refusal: PermanentError) -> ApplyResult:
        """A 428 for the whole call: one re-read tells whose revision moved since we read it."""
        try:
            current = {
                str(i.get("id")): i.get("revision") for i in await self._items([c.external_id for c in sent])
            }
        except TransportError:
            current = {}
        failed = []
        for change in sent:
            ref = change.platform_ref or {}
            if ref[ITEM] in current and str(current[ref[ITEM]]) == str(ref[REVISION]):
                failed.append(
                    ItemFailure(change.external_id, "not applied: another item of the call was stale")
                )
            else:
                why = f"compare-and-set refused: changed in Wix since read ({refusal})"
                failed.append(ItemFailure(change.external_id, why, permanent=True))
        return ApplyResult(failed=tuple(failed))

    async def _catalog(self) -> str:
        if self._version is None:
            response = await self._transport.request("GET", self._base + VERSION_PATH, headers=self._headers)
            version = dig(response.body, "catalogVersion")
            if not isinstance(version, str) or not version:
                raise TemporaryError("wix: the catalog version answer has no catalogVersion")
            self._version = version[:40]
        return self._version

    async def _items(self, variant_ids: Sequence[str]) -> list[Mapping[str, Any]]:
        """Inventory items of these variants (at our location, when set), every cursor page."""
        query_filter: dict[str, Any] = {"variantId": {"$in": list(variant_ids)}}
        if self._location is not None:
            query_filter["locationId"] = self._location

        async def fetch(cursor: str | None) -> tuple[list[Mapping[str, Any]], str | None]:
            paging: dict[str, Any] = {"limit": PAGE_LIMIT}
            query: dict[str, Any] = {"cursorPaging": paging}
            if cursor is None:
                query["filter"] = query_filter
            else:  # with a cursor Wix takes nothing else: the filter travels inside it
                paging["cursor"] = cursor
            answer = (await self._post(QUERY_PATH, {"query": query})).body
            page = dig(answer, "inventoryItems")
            if not isinstance(page, list):
                raise TemporaryError("wix: the inventory query answer has no inventoryItems list")
            following = dig(answer, "pagingMetadata", "cursors", "next")
            return [i for i in page if isinstance(i, dict)], following if isinstance(
                following, str
            ) and following else None

        return [item async for page in cursor_pages(fetch) for item in page]

    async def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        return await self._transport.request("POST", self._base + path, json=body, headers=self._headers)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_jwt(self._key, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        delivery = envelope(body)
        event = delivery.event
        event_id = event.get("id")
        delivery_id = event_id[:100] if isinstance(event_id, str) and event_id else None
        occurred = webhook_time(event, "eventTime", "data.data.eventTime")
        quiet = Notification(delivery_id=delivery_id, occurred_at=occurred)
        if self._instance_id is not None and delivery.instance_id != self._instance_id:
            return quiet  # another site's event
        if delivery.event_type not in _ITEM_EVENTS:
            return quiet  # V1 events (V1 sites are refused) and other topics
        entity = dig(event, "updatedEvent", "currentEntity") or dig(
            event, "actionEvent", "body", "currentEntity"
        )
        if not isinstance(entity, dict):
            raise InputError("webhook", "data.data.updatedEvent.currentEntity", "missing or not an object")
        author = delivery.identity.get("appId") or dig(event, "actionEvent", "body", "appId")
        if self._app_id is not None and author == self._app_id:
            return quiet  # our own write: the confirmation we recorded is the truth, not drift
        if self._location is not None and entity.get("locationId") != self._location:
            return quiet
        if not {"quantity", "inStock", "trackQuantity"} & set(entity):  # only some fields: read it anew
            return Notification(delivery_id=delivery_id, occurred_at=occurred, reread=True)
        item_id = entity.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise InputError("webhook", "data.data.updatedEvent.currentEntity.id", "missing or not text")
        return Notification([as_observed(item_id, entity)], delivery_id=delivery_id, occurred_at=occurred)


def _optional_id(settings: StoreSettings, name: str, what: str) -> str | None:
    return settings.ident(name, what) if settings.get(name) is not None else None
