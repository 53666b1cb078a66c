"""Square (Catalog + Inventory API, REST v2): translates our Observed/Change to inventory counts and back.

Stock model: a count per (ITEM_VARIATION catalog object id, location, state); the sellable count is
state IN_STOCK at the store's `location_id`. External ids are variation catalog object ids.
Quantities are decimal strings ("3", "2.5"): a fraction reads as the next whole count, so it is
sellable and never equal to a lower count we wrote (bounded, a count beyond int4 is a problem).
- observe: `POST /v2/catalog/batch-retrieve` (the variations: tracking, presence, sold out) then
  `POST /v2/inventory/counts/batch-retrieve` (catalog_object_ids + location_ids + states IN_STOCK,
  limit 1000, cursor pages); 1000 variations per chunk (catalog batch_retrieve_max_object_ids).
  A variation not tracked at the location (location override `track_inventory` wins over the
  variation's) sells without a count: a problem, never written (enabling tracking is a catalog edit
  that is the merchant's call). A sold-out mark (`location_overrides[].sold_out`, read-only for
  apps, also set by hand with stock > 0) reads as count 0, as the docs ask; Square sets it itself
  when a tracked count reaches 0. Not present at the location, counted on components or estimated
  (composed): problems. No count record at all = 0.
- apply: `POST /v2/inventory/changes/batch-create`, PHYSICAL_COUNT changes (absolute, state
  IN_STOCK, `occurred_at` now minus a second: it may not lie in the future nor be over 24 h old),
  at most 100 changes (the SDK docs' cap; the current spec dropped it), `ignore_unchanged_counts`
  false (never skip a count). Status mode writes 0 or `in_stock_quantity` (default pod_quantity).
  The idempotency key is the body's fingerprint: a transport retry of the same batch reuses it
  (square_objects.batch_key). All or nothing: the changes errors[] names fail for good, the others
  are retried alone; a count a later-dated change superseded is not confirmed. No compare-and-set.
- webhooks: `inventory.count.updated` (sales, Dashboard edits and our own writes: an echo equals what
  we confirmed) carries the counts; `catalog.version.updated` (tracking or a sold-out toggle) says
  only that something changed: re-read. Signature `x-square-hmacsha256-signature` = base64
  HMAC-SHA256 of the subscription's notification URL followed by the raw body, keyed with its
  signature key, so the URL exactly as subscribed is a store setting (`notification_url`).
- rate limits are not published (Square staff: back off on 429 RATE_LIMITED); no Retry-After or
  budget header is documented: paced at a conservative 5 requests/s, `requests_per_second` refines.
Notes vs docs (the docs win) and sources: reconcilers/sources/square.md (read 2026-12-07). Every request
goes through the shared transport; this module never decides what to write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from daemon.errors import ConfigError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import chunked, merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.pagination import cursor_pages
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import verify_signed_body
from reconcilers.square_objects import (
    IN_STOCK,
    UnreadableError,
    batch_key,
    confirmations,
    notified,
    observed,
    physical_count,
    read_counts,
    read_variation,
    refusal,
    valid_id,
)
from reconcilers.transport import AuthError, PermanentError, TemporaryError
from reconcilers.webhook_json import load_webhook_json, webhook_time

API_VERSION = "2025-08-20"  # Square-Version, pinned: the version of the spec the requests are checked against
DEFAULT_BASE_URL = "https://connect.squareup.com"
SIGNATURE_HEADER = "x-square-hmacsha256-signature"
READ_BATCH = 1000  # catalog batch_retrieve_max_object_ids; counts `limit` maximum
WRITE_BATCH = 100
COUNT_EVENT, CATALOG_EVENT = "inventory.count.updated", "catalog.version.updated"
CLOCK_MARGIN = timedelta(seconds=1)  # our clock may run ahead of Square's: never date a count ahead


class SquareReconciler:
    """Reads variations and IN_STOCK counts per 1000 ids, writes PHYSICAL_COUNT batches of 100."""

    capabilities: Capabilities = Capabilities(
        platform="square",
        stock_model=StockModel.QUANTITY,
        max_read_batch=READ_BATCH,
        max_write_batch=WRITE_BATCH,
        rate_budget=RateBudget(requests_per_second=5.0, burst=5),
        webhook_scheme=(
            f"{SIGNATURE_HEADER} base64 HMAC-SHA256 of the notification URL + raw body (subscription "
            "signature key)"
        ),
        compare_and_set=False,
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT, Refinement.PAGE_SIZE}),
        unlimited="none: an untracked variation (track_inventory false) sells without a count; a problem",
        source=(
            "developer.squareup.com reference BatchRetrieveInventoryCounts, BatchChangeInventory, "
            "BatchRetrieveCatalogObjects, ItemVariationLocationOverrides; docs inventory-api/how-it-works, "
            "monitor-sold-out-status-on-item-variation, inventory-api/webhooks, webhooks/step3validate, "
            "build-basics idempotency; square/connect-api-specification api.json (read 2026-12-07)"
        ),
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._api = settings.base_url(default=DEFAULT_BASE_URL, https=True) + "/v2"
        self._location_id = settings.ident("location_id", "a Square location id")
        self._notification_url = _notification_url(settings)
        # one application's subscription hears every seller that authorized it
        merchant = settings.get("merchant_id")
        self._merchant_id = (
            None if merchant is None else settings.ident("merchant_id", "a Square merchant id")
        )
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self.capabilities = refined(type(self).capabilities, settings)
        for name, value, cap in (
            ("batch_limit", self.capabilities.max_write_batch, WRITE_BATCH),
            ("page_size", self.capabilities.max_read_batch, READ_BATCH),
        ):
            if value > cap:
                raise ConfigError(settings.key(name), f"Square takes at most {cap}")
        keys = credential_fields(context, ["access_token"], ["signature_key"], plain_allowed=True)
        self._headers = {"Authorization": f"Bearer {keys['access_token']}", "Square-Version": API_VERSION}
        self._signature_key = keys["signature_key"]
        self._transport = context.transport
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        ids = list(dict.fromkeys(v.external_id for v in variants if valid_id(v.external_id)))
        found: list[Observed] = []
        for chunk in chunked(ids, self.capabilities.max_read_batch):
            catalog = await self._variations(chunk)
            now = self.clock()
            states = {i: read_variation(catalog[i], self._location_id, now) for i in chunk if i in catalog}
            counts = await self._counts([i for i, s in states.items() if s.problem is None])
            found += [observed(i, s, counts.get(i), i in counts) for i, s in states.items()]
        return found

    async def _variations(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        body = await self._post("/catalog/batch-retrieve", {"object_ids": list(ids)})
        objects, wanted = body.get("objects"), set(ids)
        listed = [o for o in objects if isinstance(o, dict)] if isinstance(objects, list) else []
        return {o["id"]: o for o in listed if o.get("id") in wanted and o.get("is_deleted") is not True}

    async def _counts(self, ids: Sequence[str]) -> dict[str, Decimal | UnreadableError | None]:
        if not ids:
            return {}
        query: dict[str, Any] = {
            "catalog_object_ids": list(ids),
            "location_ids": [self._location_id],
            "states": [IN_STOCK],
            "limit": READ_BATCH,
        }

        async def page(cursor: str | None) -> tuple[list[Any], str | None]:
            body = await self._post(
                "/inventory/counts/batch-retrieve", {**query, **({"cursor": cursor} if cursor else {})}
            )
            counts, after = body.get("counts"), body.get("cursor")
            return (counts if isinstance(counts, list) else []), (after if isinstance(after, str) else None)

        wanted, found = set(ids), dict[str, Decimal | UnreadableError | None]()
        async for counts in cursor_pages(page):
            found.update((k, v) for k, v in read_counts(counts, self._location_id).items() if k in wanted)
        return found

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._transport.request("POST", self._api + path, json=body, headers=self._headers)
        if not isinstance(response.body, dict):
            raise TemporaryError(f"square: POST /v2{path} did not answer a JSON object")
        return response.body

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        bad = [c for c in batch if not valid_id(c.external_id)]
        why = "external id must be a Square catalog object id (1 to 100 characters)"
        failed = [ItemFailure(c.external_id, why, permanent=True) for c in bad]
        batch = [c for c in batch if c not in bad]
        if not batch:
            return ApplyResult(failed=tuple(failed))
        stamp = (self.clock() - CLOCK_MARGIN).astimezone(UTC).isoformat(timespec="milliseconds")
        entries = [physical_count(c, self._location_id, stamp, self._in_stock_quantity) for c in batch]
        body = {"idempotency_key": batch_key(entries), "ignore_unchanged_counts": False, "changes": entries}
        try:
            answer = await self._post("/inventory/changes/batch-create", body)
        except AuthError:
            raise  # the credential: run_batch stops the store's other batches too
        except PermanentError as exc:
            errors = exc.body.get("errors") if isinstance(exc.body, dict) else None
            return ApplyResult(failed=(*failed, *refusal(batch, errors, str(exc))))
        return merge_results(
            [ApplyResult(failed=tuple(failed)), confirmations(batch, entries, answer, self._location_id)]
        )

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if self._notification_url is None:  # the signed message starts with it: cannot verify without
            return False
        return verify_signed_body(
            self._signature_key,
            headers,
            SIGNATURE_HEADER,
            body,
            encoding="base64",
            signed_prefix=self._notification_url.encode(),
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        event = load_webhook_json(body)
        if not isinstance(event, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        kind = event.get("type")
        if not isinstance(kind, str):
            raise InputError("webhook", "type", "missing or not a string")
        event_id = event.get("event_id")
        delivery = event_id[:100] if isinstance(event_id, str) and event_id else None
        occurred = webhook_time(event, "created_at")
        if self._merchant_id is not None and event.get("merchant_id") != self._merchant_id:
            return Notification(delivery_id=delivery, occurred_at=occurred)  # another seller's news
        if kind == CATALOG_EVENT:  # tracking or a sold-out toggle changed somewhere: re-read
            return Notification(reread=True, delivery_id=delivery, occurred_at=occurred)
        if kind != COUNT_EVENT:
            return Notification(delivery_id=delivery, occurred_at=occurred)  # not about stock
        data = event.get("data")
        found = data.get("object") if isinstance(data, dict) else None
        counts = found.get("inventory_counts") if isinstance(found, dict) else None
        if not isinstance(counts, list):
            raise InputError("webhook", "data.object.inventory_counts", "missing or not a list")
        return Notification(notified(counts, self._location_id), delivery_id=delivery, occurred_at=occurred)


def _notification_url(settings: StoreSettings) -> str | None:
    """The subscription's notification URL exactly as registered in Square (it is signed byte for byte:
    kept as given, trailing slash and query included)."""
    raw = settings.get("notification_url")
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.startswith(("https://", "http://")) or len(raw) > 2000:
        raise ConfigError(
            settings.key("notification_url"), "must be the http(s) URL of the Square subscription"
        )
    if any(c.isspace() for c in raw):
        raise ConfigError(settings.key("notification_url"), "must not contain spaces")
    return raw
