"""Wix Stores (REST): translates our Observed/Change to Catalog V3 inventory items or V1 inventory.

A site runs one catalog generation (V1 sites migrate to V3, never back): `GET
/stores/v3/provision/version` tells which, once per reconciler, unless setting `catalog_version` says.
- V3: one inventory item per (variant, location); external ids are variant ids; we own the item at
  `location_id`, or the variant's only one (several and no location_id: a problem). Tracked by
  `quantity` (a count, negative after paid orders) or `inStock` (`true` sells without a count:
  unlimited). Read by the inventory query (cursor pages), written by bulk update (1,000 items) with
  each item's `revision` as read: compare-and-set. A stale revision is an edit since we read: that
  item fails permanently (its webhook or the next pass reports the drift). The docs list 428 without
  saying per item or per call; a whole-call 428 is sorted by one re-read (moved: permanent; others
  retried).
- V1 (reconcilers/wix_v1.py): ids "<productId>:<variantId>", tracking per product, one PATCH per
  product (the write unit), no compare-and-set.
- Status mode keeps the tracking method (counts get `in_stock_quantity` or 0, flags `inStock`);
  quantity mode writes counts (a V3 flag item becomes counted; a V1 untracked product is refused:
  tracking is product-wide). Pre-orders sell past 0: a problem, never written.
- Auth (reconcilers/wix_auth.py): an API key + `site_id`, our app's secret (app tokens are created and
  renewed), or a ready access token.
- Webhooks: an RS256 JWT body (reconcilers/wix_webhook.py); our own app's changes are echoes.
Docs vs notes: quantity is -100,000..1,000,000 in the REST reference (notes: ±99,999).
All requests go through the shared transport. Documentation read 2026-12-07: reconcilers/sources/wix.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from daemon.errors import ConfigError, CredentialError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers import wix_v1
from reconcilers.batching import chunked, merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel, WriteUnit
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.observations import unenforceable
from reconcilers.pagination import cursor_pages, numbered_pages
from reconcilers.settings import StoreSettings, refined
from reconcilers.transport import AuthError, PermanentError, TemporaryError, TransportError
from reconcilers.wix_auth import WixAuth
from reconcilers.wix_items import ITEM, REVISION, as_observed, dig, entry_for, mapped, not_synced, usable_ref
from reconcilers.wix_webhook import Audience, envelope, notification, public_key, verify_jwt

DEFAULT_BASE_URL = "https://www.wixapis.com"
VERSION_PATH = "/stores/v3/provision/version"
QUERY_PATH = "/stores/v3/inventory-items/query"
UPDATE_PATH = "/stores/v3/bulk/inventory-items/update"
V1_QUERY_PATH = "/stores/v2/inventoryItems/query"
V1_PRODUCT_PATH = "/stores/v2/inventoryItems/product/"
PAGE_LIMIT = 1000  # V3 cursorPaging.limit maximum
V3, V1 = "V3_CATALOG", "V1_CATALOG"
_SETTING = {"V3": V3, "V1": V1}


class WixReconciler:
    """Reads items with the inventory query and writes them with bulk update (revision-checked)."""

    capabilities: Capabilities = Capabilities(
        platform="wix",
        stock_model=StockModel.BOTH,
        max_read_batch=100,  # variant ids (V3) per query filter: our choice, no documented $in cap
        max_write_batch=1000,  # V3 bulk update: 1-1000 inventory items
        rate_budget=RateBudget(
            requests_per_second=200 / 60,  # 200 requests per minute per app instance (site)
            # no window: a sliding minute with no Retry-After is backed off and the rate halved, not
            # waited out for a whole minute (aligned=False would mean a documented cool-down)
            burst=5,
        ),
        webhook_scheme="the whole body is an RS256 JWT signed by Wix (app public key); no signature header",
        compare_and_set=True,  # V3 revisions (V1 has none)
        notification_ref=ITEM,  # V3 events name the inventory item (one per variant × location)
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT, Refinement.PAGE_SIZE}),
        unlimited="inStock: true (in-stock tracking, no quantity limit)",
        write_unit=WriteUnit.PARENT_PRODUCT,  # V1: one product per PATCH; V3 ids all share one unit
        unit_key=wix_v1.product_unit,
        source=(
            "dev.wix.com REST: Catalog V3 Inventory Items (object, query, bulk update), Catalog V1 "
            "Inventory (query, update inventory variants, events), Catalog Versioning, Rate Limits, "
            "About Webhooks / webhook structure (read 2026-12-07)"
        ),
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._base = settings.base_url(default=DEFAULT_BASE_URL, https=True)
        self._transport = context.transport
        self.capabilities = refined(type(self).capabilities, settings)
        self._location = _optional_id(settings, "location_id", "a Wix location id")
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        version = settings.get("catalog_version")
        if version is not None and version not in _SETTING:
            raise ConfigError(settings.key("catalog_version"), "must be 'V3' or 'V1' (absent: detected)")
        self._version: str | None = _SETTING.get(version) if version else None
        self._audience = Audience(
            _optional_id(settings, "app_id", "our Wix app id"),
            _optional_id(settings, "instance_id", "the app instance id"),
            self._location,
            self._version,
        )
        self._auth = WixAuth(context, settings, self._base)
        self._key = public_key(self._auth.public_pem) if self._auth.public_pem else None
        if self._auth.public_pem and self._key is None:
            name = context.credential.name
            raise CredentialError(f"credential {name!r}: 'public_key' is not an RSA public key in PEM")

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        ids = list(dict.fromkeys(v.external_id for v in variants))
        version = await self._catalog()
        if version == V1:
            return await self._observe_v1(ids)
        if version != V3:
            return [unenforceable(eid, not_synced(version)) for eid in ids]
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

    async def _observe_v1(self, ids: Sequence[str]) -> list[Observed]:
        keys = {eid: key for eid in ids if (key := wix_v1.split_id(eid))}
        why = "on a Catalog V1 site the external id is '<productId>:<variantId>'"
        observed = [unenforceable(eid, why) for eid in ids if eid not in keys]
        products = list(dict.fromkeys(product for product, _ in keys.values()))
        found: dict[tuple[str, str], Observed] = {}
        for chunk in chunked(products, wix_v1.PAGE_LIMIT):

            async def fetch(page: int, chunk: Sequence[str] = chunk) -> tuple[list[Any], int | None]:
                body = wix_v1.query_body(chunk, (page - 1) * wix_v1.PAGE_LIMIT)
                answer = (await self._post(V1_QUERY_PATH, body)).body
                items, total = dig(answer, "inventoryItems"), dig(answer, "totalResults")
                if not isinstance(items, list):
                    raise TemporaryError("wix: the V1 inventory answer has no inventoryItems list")
                pages = -(-total // wix_v1.PAGE_LIMIT) if isinstance(total, int) else None
                return [i for i in items if isinstance(i, dict)], pages

            async for page in numbered_pages(fetch):
                found |= wix_v1.observed_in(page)
        return observed + [found[key] for key in keys.values() if key in found]

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        version = await self._catalog()
        if version == V1:
            return await self._send_v1(batch)
        if version != V3:
            reason = not_synced(version)
            return ApplyResult(failed=tuple(ItemFailure(c.external_id, reason, problem=True) for c in batch))
        refused = [ItemFailure(c.external_id, bad, permanent=True) for c in batch if (bad := usable_ref(c))]
        sent = [c for c in batch if usable_ref(c) is None]
        if not sent:
            return ApplyResult(failed=tuple(refused))
        body = {"inventoryItems": [entry_for(c, self._in_stock_quantity) for c in sent], "returnEntity": True}
        try:
            result = mapped(sent, (await self._post(UPDATE_PATH, body)).body)
        except AuthError:
            raise
        except PermanentError as exc:
            if exc.status != 428:
                raise
            result = await self._stale(sent, exc)
        return merge_results([ApplyResult(failed=tuple(refused)), result])

    async def _stale(self, sent: Sequence[Change], refusal: PermanentError) -> ApplyResult:
        """A 428 for the whole call: one re-read tells whose revision moved since we read it."""
        try:
            items = await self._items([c.external_id for c in sent])
        except TransportError:
            items = []
        current = {str(i.get("id")): str(i.get("revision")) for i in items}
        failed = []
        for change in sent:
            ref = change.platform_ref or {}
            if current.get(ref[ITEM]) == str(ref[REVISION]):
                why = f"not applied: Wix refused the call ({refusal}); this item's revision is current"
                failed.append(ItemFailure(change.external_id, why))
            else:
                why = f"compare-and-set refused: changed in Wix since read ({refusal})"
                failed.append(ItemFailure(change.external_id, why, permanent=True))
        return ApplyResult(failed=tuple(failed))

    async def _send_v1(self, batch: Sequence[Change]) -> ApplyResult:
        body, sent, refused = wix_v1.patch_body(batch, self._in_stock_quantity)
        if body is None:
            return ApplyResult(failed=tuple(refused))
        product = quote(wix_v1.product_unit(sent[0].external_id), safe="")
        url = self._base + V1_PRODUCT_PATH + product
        await self._transport.request(
            "PATCH", url, json=body, headers=await self._auth.headers(self._transport)
        )
        entries = body["inventoryItem"]["variants"]
        confirmed = tuple(wix_v1.confirmed(c, e) for c, e in zip(sent, entries, strict=True))
        return ApplyResult(confirmed, tuple(refused))

    async def _catalog(self) -> str:
        if self._version is None:
            headers = await self._auth.headers(self._transport)
            response = await self._transport.request("GET", self._base + VERSION_PATH, headers=headers)
            version = dig(response.body, "catalogVersion")
            if not isinstance(version, str) or not version:
                raise TemporaryError("wix: the catalog version answer has no catalogVersion")
            self._version = version[:40]
        return self._version

    async def _items(self, variant_ids: Sequence[str]) -> list[Mapping[str, Any]]:
        """V3 inventory items of these variants (at our location, when set), every cursor page."""
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
            page, following = dig(answer, "inventoryItems"), dig(answer, "pagingMetadata", "cursors", "next")
            if not isinstance(page, list):
                raise TemporaryError("wix: the inventory query answer has no inventoryItems list")
            following = following if isinstance(following, str) and following else None
            return [i for i in page if isinstance(i, dict)], following

        return [item async for page in cursor_pages(fetch) for item in page]

    async def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        headers = await self._auth.headers(self._transport)
        return await self._transport.request("POST", self._base + path, json=body, headers=headers)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_jwt(self._key, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        return notification(envelope(body), self._audience)


def _optional_id(settings: StoreSettings, name: str, what: str) -> str | None:
    return settings.ident(name, what) if settings.get(name) is not None else None
