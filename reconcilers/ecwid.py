"""Ecwid by Lightspeed (REST API v3): translates our Observed/Change to product and variation stock.

Stock model: every product and every variation ("combination") has `quantity` and `unlimited`
(`inStock` is derived). `unlimited: true` sells without a count (the answer omits `quantity`): read
as Observed.unlimited, and never given a count except by a write that means one. External ids are
"<productId>" or "<productId>:<combinationId>".
- quantity mode: PUT `{"quantity": n, "unlimited": false}` (0 when unsellable).
- status mode: unavailable → quantity 0; available → quantity `in_stock_quantity` (default the store's
  POD quantity), except an item observed unlimited, which already sells and is left unlimited.
`unlimited: false` goes with every count because Ecwid ignores `quantity` on an unlimited item.
Writes are absolute (`PUT /products/{id}`, `PUT /products/{id}/combinations/{id}`), never the
`/inventory` delta, so a retried write writes the same value. No compare-and-set: last write wins.
An item with outOfStockVisibilityBehaviour ALLOW_PREORDER sells past 0: a problem, never written.

Why not `/batch` for writes (500 sub-requests): it is asynchronous (POST answers a ticket, the results
come from polling `GET /batch?ticket=`), so a write unit would cost two requests or more and a wait
of unknown length; the kit's write unit is one request whose answer confirms it. Its
`deduplicationKey` returns the FIRST result for an hour, so re-sending the same values after a
merchant's edit would be answered "done" without being executed; the docs do not say whether its
sub-requests count against the 600/min. So each item is its own write unit (WriteUnit.ITEM).

Reads: `GET /products?productId=<ids>` (100 ids per request, offset pagination by `total`) for
products, `GET /products/{id}/combinations` (all variations of one product, not paged) per product
with synced variations. Webhooks: only `X-Ecwid-Webhook-Signature` = base64 HMAC-SHA256 over
"{eventCreated}.{eventId}" with the app's client_secret; the body is NOT signed and carries no stock
anyway, so a product event asks the engine to re-read that product's synced items
(Notification.reread_products; without an entityId, the store). Our own writes come back as
product.updated too: the re-read finds what we applied, which is not drift.
Documentation read 2026-12-07: reconcilers/sources/ecwid.md. Every request goes through the shared
transport (600 requests/min per token, 429 + Retry-After).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.errors import CredentialError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import chunked, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, RateWindow, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.ecwid_items import (
    PRODUCT_EVENTS,
    as_observed,
    event_fields,
    event_time,
    item_unit,
    product_of_item,
    put_body,
    target_of,
    written,
)
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import header_value, verify_base64
from reconcilers.transport import PermanentError, TemporaryError
from reconcilers.webhook_json import load_webhook_json

DEFAULT_BASE_URL = "https://app.ecwid.com/api/v3"
SIGNATURE_HEADER = "X-Ecwid-Webhook-Signature"
PAGE_SIZE = 100  # `limit` maximum of product search
WRITE_BATCH = 100  # changes per apply() call; each item is still one PUT
REQUESTS_PER_MINUTE = 600


class EcwidReconciler:
    """Reads products by id lists and variations per product; writes one absolute PUT per item."""

    capabilities: Capabilities = Capabilities(
        platform="ecwid",
        stock_model=StockModel.QUANTITY,
        max_read_batch=PAGE_SIZE,
        max_write_batch=WRITE_BATCH,
        rate_budget=RateBudget(
            requests_per_second=REQUESTS_PER_MINUTE / 60,
            burst=10,
            windows=(RateWindow(REQUESTS_PER_MINUTE, 60, aligned=False),),
        ),
        webhook_scheme=(
            f"{SIGNATURE_HEADER} base64 HMAC-SHA256 of '{{eventCreated}}.{{eventId}}' (app client_secret); "
            "the body is not signed: product events re-read the store"
        ),
        compare_and_set=False,
        source=(
            "docs.ecwid.com api-reference (REST API overview: rate limits; products: search products, "
            "update product; product variations: search, update; batch requests: create, get status) "
            "and webhook-automations (event data, signature, setup), read 2026-12-07"
        ),
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT}),
        unlimited="unlimited: true (quantity omitted); never sent by us",
        write_unit=WriteUnit.ITEM,
        unit_key=item_unit,
        product_key=product_of_item,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._store_id = settings.ident("store_id", "an Ecwid store id (digits)", digits=True)
        self._api = f"{settings.base_url(default=DEFAULT_BASE_URL, https=True)}/{self._store_id}"
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self.capabilities = refined(type(self).capabilities, settings)
        self._transport = context.transport
        keys = credential_fields(context, ["access_token"], ["client_secret"], plain_allowed=True)
        token = str(keys["access_token"])
        if token.startswith("public_"):
            where = f"credential {context.credential.name!r} for store {context.store.id}"
            raise CredentialError(f"{where}: 'access_token' is a public_ token, which cannot write")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client_secret = keys["client_secret"]

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted = {v.external_id: t for v in variants if (t := target_of(v.external_id)) is not None}
        products = sorted({p for p, c in wanted.values() if c is None})
        parents = sorted({p for p, c in wanted.values() if c is not None})
        found: dict[str, Any] = {}
        for chunk in chunked(products, PAGE_SIZE):
            for item in await self._products(chunk):
                if isinstance(item, Mapping):
                    found[str(item.get("id"))] = item
        for parent in parents:
            for variation in await self._combinations(parent):
                if isinstance(variation, Mapping):
                    found[f"{parent}:{variation.get('id')}"] = variation
        # only what was asked for, keyed the way the store writes ids back
        return [as_observed(eid, found[key]) for eid, t in wanted.items() if (key := _key(t)) in found]

    async def _products(self, ids: Sequence[int]) -> list[Any]:
        items: list[Any] = []
        offset = 0
        while True:
            params = {"productId": ",".join(map(str, ids)), "limit": str(PAGE_SIZE), "offset": str(offset)}
            response = await self._transport.request(
                "GET", f"{self._api}/products", params=params, headers=self._headers
            )
            body = response.body
            page = body.get("items") if isinstance(body, dict) else None
            total = body.get("total") if isinstance(body, dict) else None
            if not isinstance(page, list) or isinstance(total, bool) or not isinstance(total, int):
                raise TemporaryError("ecwid: product search answer has no items list or total")
            items += page
            offset += len(page)
            # a page never holds more ids than were asked for; an empty page ends a broken count
            if not page or offset >= min(total, len(ids)):
                return items

    async def _combinations(self, product: int) -> list[Any]:
        try:
            response = await self._transport.request(
                "GET", f"{self._api}/products/{product}/combinations", headers=self._headers
            )
        except PermanentError as exc:
            if exc.status == 404:  # the product is gone: none of its variations is found
                return []
            raise
        if not isinstance(response.body, list):
            raise TemporaryError("ecwid: variations answer is not a JSON list")
        return response.body

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, unit: Sequence[Change]) -> ApplyResult:
        """One write unit = one item = one absolute PUT (run_batch maps request failures)."""
        [change] = unit
        target = target_of(change.external_id)
        if target is None:
            why = "external id must be '<productId>' or '<productId>:<combinationId>'"
            return ApplyResult(failed=(ItemFailure(change.external_id, why, permanent=True),))
        body = put_body(change, self._in_stock_quantity)
        if body is None:  # already sells without a count: nothing to write
            return ApplyResult(confirmed=(written(change, None),))
        product, variation = target
        path = (
            f"/products/{product}" if variation is None else f"/products/{product}/combinations/{variation}"
        )
        response = await self._transport.request("PUT", self._api + path, json=body, headers=self._headers)
        count = response.body.get("updateCount") if isinstance(response.body, dict) else None
        if count != 1:
            why = f"ecwid: the update answered updateCount {str(count)[:12]}, not 1"
            return ApplyResult(failed=(ItemFailure(change.external_id, why),))
        return ApplyResult(confirmed=(written(change, body),))

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """The signature covers only "{eventCreated}.{eventId}" (not the body)."""
        if not self._client_secret:
            return False
        try:
            event = load_webhook_json(body)
        except InputError:
            return False
        if not isinstance(event, dict):
            return False
        created, event_id = event.get("eventCreated"), event.get("eventId")
        if isinstance(created, bool) or not isinstance(created, int) or not isinstance(event_id, str):
            return False
        signed = f"{created}.{event_id}".encode()
        return verify_base64(self._client_secret, signed, header_value(headers, SIGNATURE_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        fields = event_fields(load_webhook_json(body), self._store_id)
        if fields is None:
            return Notification()  # another store's event (one app URL serves every store)
        event_id, created, event_type, product = fields
        if event_type not in PRODUCT_EVENTS:
            return Notification()  # orders, customers...: their stock effect comes as product.updated
        # the body names a product but is unsigned and holds no stock: re-read it instead of trusting
        # the body (a forged entityId could only cause a harmless re-read); no product: the store
        when = event_time(created)
        if product is None:
            return Notification(reread=True, delivery_id=event_id, occurred_at=when)
        return Notification(reread_products={str(product)}, delivery_id=event_id, occurred_at=when)


def _key(target: tuple[int, int | None]) -> str:
    product, variation = target
    return str(product) if variation is None else f"{product}:{variation}"
