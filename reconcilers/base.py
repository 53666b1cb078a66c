"""BASE (thebase.in, BASE API v1): translates our Observed/Change to BASE items and variations and back.

Stock model: a count per item (`stock`) and per variation (`variation_stock`); an item with variations
shows the sum of its variations as its `stock`, so only its variations can be synced (external id
'<item_id>:<variation_id>'); an item without variations is synced as '<item_id>'. An item id naming an
item with variations is a problem (never written). 0 = sold out. BASE has no unlimited stock and no
"sell past 0" setting: every item sells by its count.
- read, the fewest requests for the given items: `GET /1/items/detail/{item_id}` answers one item with
  all its variations, `GET /1/items` pages through the whole shop (`limit` ≤ 100, `offset`). Each
  observe compares the distinct items wanted with the pages the shop's listing took last time (kept in
  memory per store; unknown: at most DETAIL_UNKNOWN items read one by one) and takes the cheaper. The
  listing is walked `order=created&sort=asc` (not `modified`, which our own writes reorder mid-walk) and
  stops once every wanted item was seen; an item the walk missed (created or deleted meanwhile) is
  looked up by detail, at most RECHECKS per observe. `no_item`/`bad_item_id` = not in the shop.
- write: `POST /1/items/edit_stock`, form-encoded (not JSON), one item (`stock`) or one variation
  (`variation_id` + `variation_stock`) per call: WriteUnit.ITEM with every external id its own unit. The
  answer is the whole item, so the written value is confirmed from it. Absolute values only; no
  compare-and-set, no idempotency key (a retried write sets the same value again: harmless).
- errors: every refusal is HTTP 400 `{"error", "error_description"}`; the code decides. A bad or expired
  token (`invalid_request`) is refreshed once (reconcilers/base_auth.py), then an AuthError;
  `hour_api_limit` / `day_api_limit` are the throttle signal, not bad input: the transport's
  `throttled_if` waits for the next round hour / the next midnight in Japan on the store's clock (its
  Date header), holding the whole store, and a wait beyond the request's patience becomes a temporary
  failure; other codes (`bad_variation_id`, `validation_error`, ...) are permanent for that item.
- rate: 5,000 requests per hour and 100,000 per day per shop, both reset on the boundary (RateWindow
  aligned); paced at 1.1 requests/s so a day of full passes stays under the daily quota.
- no webhooks for items or stock: drift is found by full passes; verify_webhook / parse_webhook refuse.
Docs vs our notes: they agree (the archived docs are the source; docs.thebase.in was not in the pages
we could read). The notes' "redirect_uri required in the refresh" is right; the notes' `modified desc`
ordering for reads is not used (see above). Documentation read 2026-12-07: reconcilers/sources/base.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from daemon.errors import ConfigError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.base_auth import FORM, BaseAuth
from reconcilers.base_items import (
    NOT_FOUND,
    Target,
    as_observed,
    error_code,
    item_of,
    item_unit,
    items_of,
    quota_wait,
    stock_form,
    target_of,
)
from reconcilers.batching import run_batch
from reconcilers.capabilities import Capabilities, RateBudget, RateWindow, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.observations import unenforceable
from reconcilers.settings import StoreSettings, refined
from reconcilers.transport import AuthError, PermanentError, Response, TemporaryError

DEFAULT_BASE_URL = "https://api.thebase.in"
PAGE_SIZE = 100  # items per listing page (documented maximum)
WRITE_BATCH = 50  # changes per apply(); each is its own edit_stock request
DETAIL_UNKNOWN = 3  # items read one by one while the shop's listing size is unknown
RECHECKS = 10  # items the listing walk missed, looked up by detail per observe
MAX_PAGES = 5_000  # listing pages one walk may take (500,000 items at 100 a page)
BAD_ID = "external id must be '<item_id>' or '<item_id>:<variation_id>' (BASE's numeric ids)"
NO_NOTIFICATIONS = (
    "base sends no item or stock notifications (its API has no webhooks): drift is found by full passes"
)
LISTING_PAGES: dict[str, int] = {}  # store id -> pages its last full listing walk took


def _throttled(response: Response) -> float | None:
    return quota_wait(response.body, response.headers.get("Date"))


class BaseReconciler:
    """Reads items by detail or by listing, whichever takes fewer requests; writes one edit_stock each."""

    capabilities: Capabilities = Capabilities(
        platform="base",
        stock_model=StockModel.QUANTITY,
        max_read_batch=PAGE_SIZE,
        max_write_batch=WRITE_BATCH,
        rate_budget=RateBudget(
            requests_per_second=1.1,
            burst=1,
            windows=(RateWindow(5_000, 3_600), RateWindow(100_000, 86_400)),
            remaining_header=None,
        ),
        webhook_scheme=None,
        compare_and_set=False,
        source=(
            "github.com/baseinc/api-docs (official BASE API v1 docs, archived 2019, moved to "
            "docs.thebase.in): README, items, items/detail, items/edit_stock, oauth/refresh_token "
            "(read 2026-12-07)"
        ),
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.PAGE_SIZE}),
        unlimited="none: BASE has no unlimited stock; every item and variation sells by its count",
        write_unit=WriteUnit.ITEM,
        unit_key=item_unit,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._api = f"{settings.base_url(default=DEFAULT_BASE_URL, https=True)}/1"
        self.capabilities = refined(type(self).capabilities, settings)
        if self.capabilities.max_read_batch > PAGE_SIZE:
            raise ConfigError(settings.key("page_size"), f"at most {PAGE_SIZE} (BASE's maximum)")
        self._in_stock = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        keys = credential_fields(
            context, ["client_id", "client_secret", "refresh_token", "redirect_uri"], ["access_token"]
        )
        self._store_id = context.store.id
        self._auth = BaseAuth(context.transport, f"{self._api}/oauth/token", context.store.id, keys)

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted = {v.external_id: t for v in variants if (t := target_of(v.external_id)) is not None}
        observed = [unenforceable(v.external_id, BAD_ID) for v in variants if v.external_id not in wanted]
        items = sorted({t[0] for t in wanted.values()})
        known_pages = LISTING_PAGES.get(self._store_id)
        if len(items) <= (DETAIL_UNKNOWN if known_pages is None else known_pages):
            found = {i: item for i in items if (item := await self._detail(i)) is not None}
        else:
            found = await self._walk(set(items))
            for missed in [i for i in items if i not in found][:RECHECKS]:
                if (item := await self._detail(missed)) is not None:
                    found[missed] = item
        for external_id, target in wanted.items():
            item = found.get(target[0])
            seen = None if item is None else as_observed(external_id, target, item)
            observed += [seen] if seen is not None else []
        return observed

    async def _detail(self, item_id: int) -> Mapping[str, Any] | None:
        """One item with its variations; None when the shop has no such item."""
        try:
            response = await self._auth.request("GET", f"{self._api}/items/detail/{item_id}", _throttled)
        except PermanentError as exc:
            if isinstance(exc, AuthError) or error_code(exc.body) not in NOT_FOUND:
                raise
            return None
        item = item_of(response.body)
        if item is None:
            raise TemporaryError("base: the item detail answer has no item object")
        return item

    async def _walk(self, wanted: set[int]) -> dict[int, Mapping[str, Any]]:
        """The shop's listing, oldest first, until every wanted item was seen or the pages end."""
        size, offset, pages = self.capabilities.max_read_batch, 0, 0
        found: dict[int, Mapping[str, Any]] = {}
        while True:
            params = {"order": "created", "sort": "asc", "limit": str(size), "offset": str(offset)}
            response = await self._auth.request("GET", f"{self._api}/items", _throttled, params=params)
            page = items_of(response.body)
            if page is None:
                raise TemporaryError("base: the item listing answer has no items list")
            pages, offset = pages + 1, offset + len(page)
            if pages > MAX_PAGES:  # an answer that never ends is not a shop's listing
                raise TemporaryError(f"base: the item listing did not end after {MAX_PAGES} pages")
            found |= {i["item_id"]: i for i in page if i.get("item_id") in wanted}
            if len(page) < size:  # the last page: now the shop's size is known
                LISTING_PAGES[self._store_id] = pages
                return found
            if len(found) == len(wanted):
                LISTING_PAGES[self._store_id] = max(LISTING_PAGES.get(self._store_id, 0), pages + 1)
                return found

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, unit: Sequence[Change]) -> ApplyResult:
        """One write unit = one item or one variation = one form-encoded edit_stock call."""
        [change] = unit
        target = target_of(change.external_id)
        if target is None:
            return ApplyResult(failed=(ItemFailure(change.external_id, BAD_ID, permanent=True),))
        form, quantity = stock_form(change, target, self._in_stock)
        response = await self._auth.request(
            "POST", f"{self._api}/items/edit_stock", _throttled, data=urlencode(form).encode(), headers=FORM
        )
        return ApplyResult(confirmed=(self._written(change, target, quantity, response.body),))

    @staticmethod
    def _written(change: Change, target: Target, quantity: int, body: Any) -> Observed:
        """What the store shows after the write: the answer's item when it names the written value."""
        item = item_of(body)
        shown = None if item is None else as_observed(change.external_id, target, item)
        if shown is not None and shown.problem is None:
            return shown
        return Observed(change.external_id, quantity > 0, quantity, {"item_id": target[0]})

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        raise InputError("webhook", "platform", NO_NOTIFICATIONS)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        raise InputError("webhook", "platform", NO_NOTIFICATIONS)
