"""Squarespace Commerce (Inventory API 1.0): translates our Observed/Change to InventoryItems and back.

Stock model: one InventoryItem per variant of a physical or service product (single location), id =
the variant id (our external id). `isUnlimited: true` sells without a count (its `quantity` is then
only the last count before and is never read as stock); otherwise `quantity` is the stock, 0 = out.
- read: `GET /1.0/commerce/inventory/{id1},{id2},...` (up to 50 ids). One unknown id answers 404 for
  the whole lookup: the lookup is halved to find it (at most LOOKUP_SPLITS extra lookups per
  observe), and past that the listing `GET /1.0/commerce/inventory?cursor=` (50 per page, dynamic
  cursor) is walked once for that observe, never kept longer (stale counts would read as drift).
- write: `POST /1.0/commerce/inventory/adjustments`, at most 50 operations, absolute operations only
  (`setFiniteOperations`, `setUnlimitedOperations`; never increment/decrement). Status mode: 0 /
  `in_stock_quantity` (default the store's POD quantity); an unlimited variant stays unlimited, and
  one we held at 0 gets `setUnlimitedOperations` back (platform_ref `sells_unlimited`), never a count.
  Quantity mode: the count, which is how an unlimited variant is made finite on purpose. Success is
  204 without a body: the sent values are what the store shows. The request is all-or-nothing: a 400
  (e.g. an unknown variant) is split in halves (at most SPLIT_REQUESTS extra requests per apply) so
  only the refused variants fail; a 409 (a concurrent adjustment of the same variants) is temporary.
- `Idempotency-Key` is required: one fresh key per request body, which the transport's retries of
  that request reuse (a replay is answered with the first result, never applied twice).
- `Authorization: Bearer <API key or OAuth token>` and a `User-Agent` on every request (requests
  without one are refused; generic client agents are throttled harder).
- Rate: 300 requests/min (5/s); a 429 holds the store for a one-minute cool-down from the 429 (no
  Retry-After documented): a non-aligned 60 s window, which the pacer waits out for the whole store.
- No compare-and-set: last write wins. No stock notifications (webhook topics are order.create,
  order.update and extension.uninstall only): drift is found by full passes, and verify_webhook /
  parse_webhook refuse any notification saying so.
Docs vs our notes: the notes' 300/min matches the current rate-limit page (an older Making Requests
page says 120/min); the docs do not say which status a missing User-Agent gets.

It only maps shapes: every request goes through the shared transport (retries, pacing, errors) and it
never decides what to write. Documentation read 2026-12-07: reconcilers/sources/squarespace.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from daemon.errors import ConfigError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import all_failed, chunked, merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, RateWindow, Refinement, StockModel
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.observations import unenforceable
from reconcilers.pagination import cursor_pages
from reconcilers.settings import StoreSettings, refined
from reconcilers.squarespace_items import (
    BadAnswerError,
    adjustments,
    as_observed,
    inventory_items,
    next_cursor,
    valid_variant_id,
)
from reconcilers.transport import AuthError, PermanentError, TemporaryError

API_VERSION = "1.0"
DEFAULT_BASE_URL = "https://api.squarespace.com"
USER_AGENT = "stocksync-inventory-sync/1.0"  # a descriptive agent: generic ones are throttled harder
MAX_IDS = 50  # variant ids per lookup (documented)
MAX_OPERATIONS = 50  # operations per adjustments request (documented)
# extra requests one apply() may spend isolating the variants a 400 refused (~2 per halving level)
SPLIT_REQUESTS = 12
# extra lookups one observe() may spend halving a 404 (one unknown id among 50: 12), then the listing
LOOKUP_SPLITS = 16
T = TypeVar("T")
BAD_ID = "not a Squarespace variant id (letters, digits, '-' and '_' only)"
NO_NOTIFICATIONS = (
    "squarespace sends no stock notifications (its webhook topics are order.create, order.update and "
    "extension.uninstall): drift is found by full passes"
)


class SquarespaceReconciler:
    """Looks variants up by id in fifties and writes absolute adjustments in fifties."""

    capabilities: Capabilities = Capabilities(
        platform="squarespace",
        stock_model=StockModel.QUANTITY,
        max_read_batch=MAX_IDS,
        max_write_batch=MAX_OPERATIONS,
        # 300/min; a 429 starts a one-minute cool-down (not a round minute): a non-aligned window
        rate_budget=RateBudget(
            requests_per_second=5.0,
            burst=1,
            windows=(RateWindow(300, 60, aligned=False),),
            remaining_header=None,
        ),
        webhook_scheme=None,
        compare_and_set=False,
        source=(
            "developers.squarespace.com/commerce-apis: inventory-overview, retrieve-all-inventory, "
            "retrieve-specific-inventory, adjust-stock-quantities, making-requests, rate-limits, "
            "responses-error-handling, webhooks overview (read 2026-12-07)"
        ),
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT}),
        unlimited="isUnlimited: true (written with setUnlimitedOperations)",
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        base = settings.base_url(default=DEFAULT_BASE_URL, https=True)
        self._url = f"{base}/{API_VERSION}/commerce/inventory"
        self.capabilities = refined(type(self).capabilities, settings)
        if self.capabilities.max_write_batch > MAX_OPERATIONS:
            raise ConfigError(
                settings.key("batch_limit"), f"at most {MAX_OPERATIONS} (Squarespace's maximum)"
            )
        self._in_stock = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        token = credential_fields(context, ["access_token"], plain_allowed=True)["access_token"]
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        self._transport = context.transport

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        known = {v.external_id: v.platform_ref for v in variants if valid_variant_id(v.external_id)}
        observed = [unenforceable(v.external_id, BAD_ID) for v in variants if v.external_id not in known]
        found: dict[str, Mapping[str, Any]] = {}
        listing: dict[str, Mapping[str, Any]] | None = None
        parts, spare = [list(ids) for ids in chunked(list(known), MAX_IDS)][::-1], LOOKUP_SPLITS  # a stack
        while parts:
            part = parts.pop()
            items = await self._lookup(part)
            if items is not None:
                found.update(items)
            elif len(part) > 1 and spare >= 2:
                spare -= 2  # one unknown id 404s the whole lookup: halve to find it
                parts += [part[len(part) // 2 :], part[: len(part) // 2]]
            elif len(part) > 1:  # several unknown ids: the listing (walked once) says which exist
                listing = listing if listing is not None else await self._walk_listing()
                found.update({i: listing[i] for i in part if i in listing})
        observed += [as_observed(eid, found[eid], ref) for eid, ref in known.items() if eid in found]
        return observed

    async def _lookup(self, ids: Sequence[str]) -> dict[str, Mapping[str, Any]] | None:
        """The items of one lookup; None when it names an id the store does not have (404)."""
        try:
            response = await self._transport.request(
                "GET", f"{self._url}/{','.join(ids)}", headers=self._headers
            )
        except PermanentError as exc:
            if exc.status != 404 or isinstance(exc, AuthError):
                raise
            return None
        items = _readable(inventory_items, response.body)
        return {i: items[i] for i in ids if i in items}

    async def _walk_listing(self) -> dict[str, Mapping[str, Any]]:
        async def page(cursor: str | None) -> tuple[list[tuple[str, Mapping[str, Any]]], str | None]:
            params = {"cursor": cursor} if cursor else None
            response = await self._transport.request("GET", self._url, params=params, headers=self._headers)
            items = _readable(inventory_items, response.body)
            return list(items.items()), _readable(next_cursor, response.body)

        listing: dict[str, Mapping[str, Any]] = {}
        async for items in cursor_pages(page):
            listing.update(items)
        return listing

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        """One adjustments request for the batch; a 400-refused part is halved until the refused
        variants stand alone (within SPLIT_REQUESTS), the others written."""
        bad = [c for c in batch if not valid_variant_id(c.external_id)]
        results = [ApplyResult(failed=tuple(ItemFailure(c.external_id, BAD_ID, permanent=True) for c in bad))]
        parts = [[c for c in batch if valid_variant_id(c.external_id)]]
        spare = SPLIT_REQUESTS
        while parts:
            part = parts.pop()
            if not part:
                continue
            try:
                results.append(await self._adjust(part))
            except PermanentError as exc:
                if isinstance(exc, AuthError):
                    raise  # the credential: run_batch stops the store's other units too
                if exc.status in (400, 404) and len(part) > 1 and spare >= 2:
                    spare -= 2  # all-or-nothing: halve to write the others and name the refused
                    parts += [part[len(part) // 2 :], part[: len(part) // 2]]
                elif exc.status == 409:  # another adjustment of these variants was in flight
                    results.append(all_failed(part, f"{exc} (concurrent adjustment)", permanent=False))
                else:
                    results.append(all_failed(part, str(exc), permanent=True))
            except TemporaryError as exc:  # one part's outage must not lose the others' answers
                results.append(all_failed(part, str(exc), permanent=False))
        return merge_results(results)

    async def _adjust(self, part: Sequence[Change]) -> ApplyResult:
        body, shown = adjustments(part, self._in_stock)
        # one key per body: the transport's retries of this request repeat it, so a write whose
        # answer was lost is answered from Squarespace's record instead of being applied twice
        headers = {**self._headers, "Idempotency-Key": uuid.uuid4().hex}
        await self._transport.request("POST", f"{self._url}/adjustments", json=body, headers=headers)
        return ApplyResult(confirmed=tuple(shown))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        raise InputError("webhook", "platform", NO_NOTIFICATIONS)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        raise InputError("webhook", "platform", NO_NOTIFICATIONS)


def _readable(read: Callable[[Any], T], body: Any) -> T:
    try:
        return read(body)
    except BadAnswerError as exc:
        raise TemporaryError(f"squarespace: {exc}") from None
