"""Etsy (Open API v3): translates our Observed/Change to listing inventories and back.

A listing holds products (one per variation combination), each with one offering (`quantity` 0..999,
`is_enabled`); no locations, no unlimited stock. External ids are "<listing_id>:<sku>" (or
"<listing_id>" for a one-product listing): product and offering ids change on every update, so
products are found by SKU each time. An active listing sells its quantities; an inactive or sold-out
one sells nothing (read as 0). Draft/expired listings, disabled offerings, duplicate SKUs and
quantities that do not vary by variation are problems, never written.
Writes: PUT /listings/{id}/inventory REPLACES the inventory, so the body is rebuilt from the one just
read (batched: 100 listings a GET; a single-listing GET when the batch left readiness states null),
every field and product kept, only our quantities changed; its answer confirms by SKU and is the base
of the next write. Etsy refuses all-zero offerings: a listing left with nothing to sell is set
`inactive` (PATCH /shops/{shop_id}/listings/{id}) instead; making it sell again PUTs its other
products at 0 (held counts are stale) and sets it `active`; a sold-out one only with
`renew_sold_out` (a listing fee). No compare-and-set: last write wins.
Pace: the per-shop rolling-24 h QPD spread over the day (burst = QPS; `requests_per_second`),
`x-remaining-today` 0 pauses, 429 waits its retry-after; a pass the day's remaining budget no longer
covers logs `etsy_daily_budget_short` once. Auth: `x-api-key: keystring:shared_secret` + Bearer token,
refreshed once on 401/expiry (reconcilers/etsy_auth.py). Webhooks (Standard Webhooks) carry no
quantities: they ask for a re-read of the listing their resource_url names. Docs over our notes: the batch read is /listings/batch/inventory
(`includes=Inventory` was removed). Documentation read 2026-12-07: reconcilers/sources/etsy.md.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.errors import InputError
from daemon.logs import get_logger
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import chunked, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, RateWindow, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.etsy_auth import EtsyAuth
from reconcilers.etsy_inventory import (
    MAX_OFFERING_QUANTITY,
    SELLING,
    Listing,
    lacks_readiness,
    listing_of_resource,
    listing_unit,
    observe_item,
    parse_external_id,
    read_listings,
    unix_time,
)
from reconcilers.etsy_writes import (
    READ_BATCH,
    Action,
    budget_short,
    off_sale_result,
    plan_write,
    setting_flag,
    written_result,
)
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import header_value, standard_webhooks_key, verify_standard_webhook
from reconcilers.transport import Response, TemporaryError, TransportError
from reconcilers.webhook_json import load_webhook_json, webhook_header

DEFAULT_BASE_URL = "https://api.etsy.com/v3/application"
DEFAULT_TOKEN_URL = "https://api.etsy.com/v3/public/oauth/token"
QPS, QPD = 10, 10_000  # a new app's documented default budget
WEBHOOK_TOLERANCE_S = 300
LISTING_TTL_S = 60.0  # one pass observes then writes within this; older inventories are read again
_EVENTS = ("inventory.", "listing.")


class EtsyReconciler:
    """Reads 100 listings' inventories a request; writes one listing's whole inventory a request."""

    capabilities: Capabilities = Capabilities(
        platform="etsy",
        stock_model=StockModel.QUANTITY,
        max_read_batch=READ_BATCH,
        max_write_batch=100,  # changes per apply(); each listing is still one PUT
        rate_budget=RateBudget(
            requests_per_second=QPD / 86_400,
            burst=QPS,
            windows=(RateWindow(QPS, 1, aligned=False), RateWindow(QPD, 86_400, aligned=False)),
            remaining_header="x-remaining-today",
        ),
        webhook_scheme=(
            "Standard Webhooks: webhook-signature 'v1,<base64 HMAC-SHA256>' of "
            "'<webhook-id>.<webhook-timestamp>.<raw body>' (whsec_ signing secret)"
        ),
        compare_and_set=False,
        source=(
            "developers.etsy.com essentials/rate-limits, essentials/webhooks, tutorials/listings, "
            "tutorials/inventory-shipping-migration, reference updateListingInventory/updateListing; "
            "github.com/etsy/open-api discussions 1747, 1509, issues 395/501/523/581 (read 2026-12-07)"
        ),
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT}),
        unlimited="none: every Etsy offering has a finite quantity (0..999)",
        write_unit=WriteUnit.LISTING,
        unit_key=listing_unit,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._store_id = context.store.id
        self._api = settings.base_url(default=DEFAULT_BASE_URL, https=True)
        token_url = settings.base_url("token_url", DEFAULT_TOKEN_URL, https=True)
        self._shop_id = settings.ident("shop_id", "the Etsy shop id (digits)", digits=True)
        self._in_stock_quantity = min(
            settings.whole("in_stock_quantity", context.store.rules.pod_quantity), MAX_OFFERING_QUANTITY
        )
        self._renew_sold_out = setting_flag(settings, "renew_sold_out")
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(
            context, ["keystring", "access_token"], ["shared_secret", "refresh_token", "webhook_secret"]
        )
        self._auth = EtsyAuth(context.transport, token_url, self._store_id, keys)
        self._webhook_key = standard_webhooks_key(keys["webhook_secret"])
        self._transport = context.transport
        self._listings: dict[int, tuple[float, Listing]] = {}
        self._asked: set[int] = set()  # listings this reconciler (one pass) has read
        self._unread: dict[int, TransportError] = {}  # why a prefetch for apply() failed
        self._warned = False

    # --- requests --------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> Response:
        return await self._auth.request(method, self._api + path, **kwargs)

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted = {v.external_id: key for v in variants if (key := parse_external_id(v.external_id))}
        listings = await self._read(sorted({listing_id for listing_id, _ in wanted.values()}))
        observed = []
        for external_id, (listing_id, sku) in wanted.items():
            listing = listings.get(listing_id)
            seen = observe_item(external_id, listing, sku) if listing is not None else None
            if seen is not None:
                observed.append(seen)
        return observed

    async def _read(self, listing_ids: Sequence[int]) -> dict[int, Listing]:
        found: dict[int, Listing] = {}
        for chunk in chunked(listing_ids, READ_BATCH):
            params = {"listing_ids": ",".join(map(str, chunk))}
            response = await self._call("GET", "/listings/batch/inventory", params=params)
            if not isinstance(response.body, dict):
                raise TemporaryError("etsy: listings inventory answer is not a JSON object")
            found |= read_listings(response.body)
            self._asked.update(chunk)
            short = budget_short(response.headers, len(self._asked))
            if short is not None and not self._warned:  # once per reconciler, i.e. per pass
                self._warned = True
                get_logger(platform="etsy").warning(
                    "etsy_daily_budget_short", store_id=self._store_id, **short
                )
        now = time.monotonic()
        self._listings |= {i: (now, listing) for i, listing in found.items()}
        return found

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        # listings not read within LISTING_TTL_S: one batched read for all (not one GET per listing)
        stale = {p[0] for c in changes if (p := parse_external_id(c.external_id)) and not self._fresh(p[0])}
        try:
            await self._read(sorted(stale))
        except TransportError as exc:  # each listing's write reports it (run_batch maps the kind)
            self._unread = dict.fromkeys(stale, exc)
        return await run_batch(self.capabilities, changes, self._send)

    def _fresh(self, listing_id: int) -> bool:
        held = self._listings.get(listing_id)
        return held is not None and time.monotonic() - held[0] < LISTING_TTL_S

    async def _send(self, unit: Sequence[Change]) -> ApplyResult:
        """One listing: read-modify-write of its whole inventory (and its state when it must change)."""
        parsed = parse_external_id(unit[0].external_id)
        listing = await self._listing(parsed[0]) if parsed else None
        if listing is None:
            why = "not found on Etsy (external id '<listing_id>:<sku>' or '<listing_id>')"
            return ApplyResult(failed=tuple(ItemFailure(c.external_id, why, permanent=True) for c in unit))
        if lacks_readiness(listing):  # a single-listing read carries the processing profiles
            single = await self._call("GET", f"/listings/{listing.listing_id}/inventory")
            listing = (
                Listing(listing.listing_id, listing.state, single.body)
                if isinstance(single.body, dict)
                else listing
            )
        plan = plan_write(listing, unit, self._in_stock_quantity, self._renew_sold_out)
        if plan.action is Action.NOTHING:
            return off_sale_result(plan, listing.listing_id)
        if plan.action is Action.DEACTIVATE:
            await self._set_state(listing.listing_id, "inactive")
            self._hold(Listing(listing.listing_id, "inactive", listing.inventory))
            return off_sale_result(plan, listing.listing_id)
        response = await self._call("PUT", f"/listings/{listing.listing_id}/inventory", json=plan.body)
        if not isinstance(response.body, dict):
            raise TemporaryError("etsy: inventory answer is not a JSON object")
        if plan.action is Action.PUT_AND_ACTIVATE:
            self._hold(Listing(listing.listing_id, listing.state, response.body))
            await self._set_state(listing.listing_id, "active")
        written = Listing(listing.listing_id, SELLING, response.body)  # new product and offering ids
        self._hold(written)
        return written_result(plan, written)

    def _hold(self, listing: Listing) -> None:
        self._listings[listing.listing_id] = (time.monotonic(), listing)

    async def _listing(self, listing_id: int) -> Listing | None:
        if listing_id in self._unread:
            raise self._unread.pop(listing_id)
        if self._fresh(listing_id):
            return self._listings[listing_id][1]
        return (await self._read([listing_id])).get(listing_id)

    async def _set_state(self, listing_id: int, state: str) -> None:
        await self._call(
            "PATCH",
            f"/shops/{self._shop_id}/listings/{listing_id}",
            data=f"state={state}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_standard_webhook(self._webhook_key, headers, body, time.time(), WEBHOOK_TOLERANCE_S)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        event = load_webhook_json(body)
        if not isinstance(event, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        kind = event.get("event_type")
        if not isinstance(kind, str) or not kind:
            raise InputError("webhook", "event_type", "missing or not a string")
        shop = event.get("shop_id")
        if shop is not None and str(shop) != self._shop_id:
            return Notification()  # another shop's event
        delivery = webhook_header(headers, "webhook-id")
        stamp = (header_value(headers, "webhook-timestamp") or "").strip()
        when = unix_time(stamp) if stamp else None
        if not kind.lower().startswith(_EVENTS):
            return Notification(delivery_id=delivery, occurred_at=when)  # orders: not stock we own
        # inventory/listing events name a resource_url, never a quantity: re-read that listing's items
        # (a URL naming no listing: the store's)
        listing = listing_of_resource(event.get("resource_url"))
        if listing is None:
            return Notification(reread=True, delivery_id=delivery, occurred_at=when)
        return Notification(reread_products={listing}, delivery_id=delivery, occurred_at=when)
