"""HubRise (API v1): translates our Observed/Change to a location's catalog inventory and back.

Stock model: one inventory per (catalog, location); each entry is {"sku_ref" | "option_ref", "stock"}
with `stock` a decimal string (up to 3 decimals; older docs: a JSON number, both are parsed). "0" means
out of stock; a SKU/option with NO entry has an unlimited supply (available, no count). External ids
are "sku:<sku ref>" or "option:<option ref>" (catalog refs, not HubRise ids: inventory entries only
reference refs, so items without a ref cannot be synced). A fractional stock is sellable when > 0
and its quantity is rounded down.
- status mode (target.quantity None): unavailable → stock "0"; available → stock null, which PATCH
  documents as "remove the entry" = unlimited.
- quantity mode: stock = str(quantity) ("0" when the target is unavailable).
Writes use PATCH only: PUT replaces the WHOLE inventory and would wipe entries we do not own. There is
no compare-and-set: last write wins. PATCH answers with the modified entries only (older docs: 204,
no body), so an entry missing from the answer is confirmed as what we sent. A 422 refuses the whole
PATCH without saying which entry is bad, so a refused batch is split in halves (at most
SPLIT_REQUESTS extra requests per apply) to write the good entries and fail only the bad ones.

It only maps shapes: every request goes through the shared transport (retries, 429 + Retry-After,
errors) and it never decides what to write. Documentation read 2026-11-23 (github.com/HubRise/website):
- content/developers/api/en/catalogs.md §14 (https://www.hubrise.com/developers/api/catalogs#inventories):
  GET/PUT/PATCH /catalogs/:id/locations/:id/inventory; the response is the whole entry list (not
  paginated); absent entry = unlimited; "0" = out of stock; PATCH `stock: null` removes the entry;
  PATCH returns only modified entries. No maximum number of entries per request is documented.
- content/developers/api/en/callbacks.md: resource `inventory`, events `update` (no state: re-read)
  and `patch` (`state_change` = list of changed entries); X-HubRise-Hmac-SHA256 = hex HMAC-SHA256 of
  the raw body keyed with the client secret; a client never receives events it generated.
- content/developers/api/en/authentication.md: X-Access-Token header on every call.
- content/developers/api/en/general-concepts.md §3 Rate Limiting: 500 requests/min, 2,500/h and
  10,000/day per connection, windows aligned on the round minute/hour/day, 429 when exceeded (no
  Retry-After documented: the transport then backs off). Paced at the hourly limit (2,500/3,600 s,
  burst 10, setting `requests_per_second`) so a busy hour never locks us out until the next one; the
  daily limit is kept by design (one GET per pass, one PATCH per 500 changes). §7: 422 errors carry
  `message` + `errors[{field, message}]`; 401 `message`.
- content/blog/20231101-inventory-updates (2023-11-01) announces location-only routes
  (`/location/inventory`) and an `until` field on PUT entries; the reference version read (the one
  that documents PATCH) still documents only the catalog-scoped routes, so we follow the reference
  (a route change would touch only the URL built in __init__).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from yarl import URL

from daemon.errors import ConfigError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from daemon.store_values import out_of_range, whole_count
from reconcilers.batching import all_failed, chunked, merge_results
from reconcilers.capabilities import Capabilities, RateBudget, StockModel
from reconcilers.credential_fields import token_and_secret
from reconcilers.interface import ReconcilerContext
from reconcilers.signatures import header_value, verify_hex
from reconcilers.transport import PermanentError, TemporaryError

API_VERSION = "v1"
DEFAULT_BASE_URL = f"https://api.hubrise.com/{API_VERSION}"
SIGNATURE_HEADER = "X-HubRise-Hmac-SHA256"
TOKEN_HEADER = "X-Access-Token"
# not a documented maximum: a cap so one PATCH body stays reasonably small
DEFAULT_WRITE_BATCH = 500
# the documented hourly limit (2,500 requests/h) as a steady pace: the per-minute limit is looser
DEFAULT_REQUESTS_PER_SECOND = 2500 / 3600
# extra PATCHes one apply() may spend isolating the entries a 422 refused (~2 per halving level)
SPLIT_REQUESTS = 20
_KINDS = {"sku": "sku_ref", "option": "option_ref"}


class HubRiseReconciler:
    """Reads a location's whole inventory in one GET and PATCHes only the entries we own."""

    capabilities: Capabilities = Capabilities(
        platform="hubrise",
        stock_model=StockModel.BOTH,
        max_read_batch=10_000,  # one GET returns the whole inventory whatever the number of variants
        max_write_batch=DEFAULT_WRITE_BATCH,
        rate_budget=RateBudget(requests_per_second=DEFAULT_REQUESTS_PER_SECOND, burst=10),
        webhook_scheme=f"{SIGNATURE_HEADER} hex HMAC-SHA256 of the raw body (client secret)",
        compare_and_set=False,
        source=(
            "github.com/HubRise/website content/developers/api/en/catalogs.md §14 Inventories, "
            "callbacks.md, authentication.md, general-concepts.md (read 2026-11-23)"
        ),
    )

    def __init__(self, context: ReconcilerContext) -> None:
        store_id = context.store.id
        settings = context.store.settings
        base = settings.get("base_url", DEFAULT_BASE_URL)
        if not isinstance(base, str) or not base.startswith(("http://", "https://")):
            raise ConfigError(f"stores.{store_id}.settings.base_url", "an http(s) URL is required")
        self._catalog_id = _setting_id(settings, "catalog_id", store_id)
        self._location_id = _setting_id(settings, "location_id", store_id)
        self._url = str(
            URL(base.rstrip("/") + "/catalogs")
            / self._catalog_id
            / "locations"
            / self._location_id
            / "inventory"
        )
        self._transport = context.transport
        batch = _positive(settings, "batch_limit", DEFAULT_WRITE_BATCH, store_id, whole=True)
        rate = _positive(settings, "requests_per_second", DEFAULT_REQUESTS_PER_SECOND, store_id)
        budget = replace(type(self).capabilities.rate_budget, requests_per_second=rate)
        self.capabilities = replace(type(self).capabilities, max_write_batch=int(batch), rate_budget=budget)
        self._token, self._client_secret = token_and_secret(context, "access_token", "client_secret")

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted = {v.external_id: key for v in variants if (key := parse_external_id(v.external_id))}
        if not wanted:
            return []
        response = await self._transport.request("GET", self._url, headers=self._headers())
        if not isinstance(response.body, list):
            raise TemporaryError("hubrise: inventory answer is not a JSON list")
        stocks = _entries(response.body)
        # an external id the inventory does not list has an unlimited supply: available, no count
        return [_observed(eid, stocks.get(key, _UNLIMITED)) for eid, key in wanted.items()]

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        failed = [
            ItemFailure(c.external_id, "external id must be 'sku:<ref>' or 'option:<ref>'", permanent=True)
            for c in changes
            if parse_external_id(c.external_id) is None
        ]
        valid = [c for c in changes if parse_external_id(c.external_id) is not None]
        results = [ApplyResult(failed=tuple(failed))]
        splits = _SplitBudget(SPLIT_REQUESTS)
        results += [
            await self._apply_batch(batch, splits)
            for batch in chunked(valid, self.capabilities.max_write_batch)
        ]
        return merge_results(results)

    async def _apply_batch(self, batch: Sequence[Change], splits: _SplitBudget) -> ApplyResult:
        entries = [entry_for(c) for c in batch]
        try:
            response = await self._transport.request(
                "PATCH", self._url, json=entries, headers=self._headers()
            )
        except PermanentError as exc:  # AuthError included: every item fails with the reason
            if exc.status == 422 and len(batch) > 1 and splits.take(2):
                # the whole PATCH was refused for some entry: halve to write the others
                half = len(batch) // 2
                return merge_results(
                    [
                        await self._apply_batch(batch[:half], splits),
                        await self._apply_batch(batch[half:], splits),
                    ]
                )
            return all_failed(batch, str(exc), permanent=True)
        except TemporaryError as exc:
            return all_failed(batch, str(exc), permanent=False)
        answered = _entries(response.body) if isinstance(response.body, list) else {}
        confirmed = []
        for change, sent in zip(batch, entries, strict=True):
            key = parse_external_id(change.external_id)
            assert key is not None  # filtered in apply()
            stock = answered.get(key, _UNLIMITED if sent["stock"] is None else Decimal(sent["stock"]))
            confirmed.append(_observed(change.external_id, stock, change.platform_ref))
        return ApplyResult(confirmed=tuple(confirmed))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if not self._client_secret:
            return False
        return verify_hex(self._client_secret, body, header_value(headers, SIGNATURE_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Observed]:
        try:
            event = json.loads(body)
        except ValueError as exc:
            raise InputError("webhook", "body", f"not valid JSON ({exc.__class__.__name__})") from None
        if not isinstance(event, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        if event.get("resource_type") != "inventory":
            raise InputError(
                "webhook", "resource_type", f"unsupported {str(event.get('resource_type'))[:40]!r}"
            )
        # an inventory is per (catalog, location): another pair's entries are not this store's
        if event.get("location_id", self._location_id) != self._location_id:
            return []
        if event.get("catalog_id", self._catalog_id) != self._catalog_id:
            return []
        if event.get("event_type") == "update":
            return []  # documented without state: the next full pass re-reads the inventory
        if event.get("event_type") != "patch":
            raise InputError("webhook", "event_type", f"unsupported {str(event.get('event_type'))[:40]!r}")
        changes = event.get("state_change")
        if not isinstance(changes, list):
            raise InputError("webhook", "state_change", "missing or not a list")
        try:
            stocks = _entries(changes, strict=True)
        except _BadEntryError as exc:
            raise InputError("webhook", "state_change", str(exc)) from None
        return [_observed(f"{kind}:{ref}", stock) for (kind, ref), stock in stocks.items()]

    def _headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self._token}


_UNLIMITED = None  # stock of an item the inventory does not list


class _BadEntryError(Exception):
    """An inventory entry we cannot read (the message says why)."""


class _SplitBudget:
    """How many extra PATCHes one apply() may still spend halving 422-refused batches."""

    def __init__(self, requests: int) -> None:
        self._left = requests

    def take(self, requests: int) -> bool:
        if self._left < requests:
            return False
        self._left -= requests
        return True


def parse_external_id(external_id: str) -> tuple[str, str] | None:
    """("sku" | "option", ref) from "sku:<ref>" / "option:<ref>", None when malformed."""
    kind, sep, ref = external_id.partition(":")
    return (kind, ref) if sep and kind in _KINDS and ref else None


def entry_for(change: Change) -> dict[str, Any]:
    """The PATCH entry: stock "0" when unsellable, the count in quantity mode, null = unlimited."""
    key = parse_external_id(change.external_id)
    if key is None:
        raise ValueError(f"bad external id {change.external_id!r}")
    target = change.target
    if not target.available:
        stock: str | None = "0"
    elif target.quantity is None:
        stock = None
    else:
        stock = str(max(target.quantity, 0))
    return {_KINDS[key[0]]: key[1], "stock": stock}


def _entries(raw: Sequence[Any], strict: bool = False) -> dict[tuple[str, str], Decimal | str | None]:
    """Inventory entries keyed by (kind, ref); strict mode raises _BadEntryError on a malformed entry.

    Otherwise an entry with a ref but an unreadable stock maps to the reason (a str): it is that item's
    problem, never "no entry" (which would read as unlimited)."""
    found: dict[tuple[str, str], Decimal | str | None] = {}
    for index, entry in enumerate(raw):
        try:
            key, stock = _entry(entry)
        except _BadEntryError as exc:
            if strict:
                raise _BadEntryError(f"entry {index}: {exc}") from None
            ref = _ref(entry) if isinstance(entry, dict) else None
            if ref is not None:
                found[ref] = f"store value refused: HubRise {exc}"
            continue  # an entry without a ref cannot be one of ours
        found[key] = stock
    return found


def _ref(entry: dict[str, Any]) -> tuple[str, str] | None:
    for kind, field in _KINDS.items():
        ref = entry.get(field)
        if isinstance(ref, str) and ref:
            return kind, ref
    return None


def _entry(entry: Any) -> tuple[tuple[str, str], Decimal | None]:
    if not isinstance(entry, dict):
        raise _BadEntryError("not an object")
    key = _ref(entry)
    if key is None:
        raise _BadEntryError("neither sku_ref nor option_ref")
    return key, _stock(entry.get("stock"))


def _stock(value: Any) -> Decimal | None:
    if value is None:
        return None  # a removed entry (PATCH / state_change): unlimited
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _BadEntryError("stock is not a decimal")
    try:
        stock = Decimal(str(value))
    except InvalidOperation:
        raise _BadEntryError("stock is not a decimal") from None
    if not stock.is_finite() or stock < 0:
        raise _BadEntryError("stock must be a decimal >= 0")
    return stock


def _observed(
    external_id: str, stock: Decimal | str | None, platform_ref: Mapping[str, Any] | None = None
) -> Observed:
    if isinstance(stock, str):  # an unreadable stock: the reason
        return Observed(external_id, None, None, platform_ref, problem=stock)
    if stock is None:
        return Observed(external_id, True, None, platform_ref, unlimited=True)
    count = whole_count(stock)  # bounded: int() of "1e999999999" would never return
    if count is None:
        return Observed(external_id, None, None, platform_ref, problem=out_of_range(stock))
    return Observed(external_id, stock > 0, count, platform_ref)


def _positive(
    settings: Mapping[str, Any], name: str, default: float, store_id: str, *, whole: bool = False
) -> float:
    """A number > 0 from the store settings (whole: integers only)."""
    value = settings.get(name, default)
    allowed = int if whole else int | float
    if isinstance(value, bool) or not isinstance(value, allowed) or value <= 0:
        what = "a whole number" if whole else "a number"
        raise ConfigError(f"stores.{store_id}.settings.{name}", f"must be {what} > 0")
    return float(value)


def _setting_id(settings: Mapping[str, Any], name: str, store_id: str) -> str:
    value = settings.get(name)
    if not isinstance(value, str) or not value or "/" in value:
        raise ConfigError(f"stores.{store_id}.settings.{name}", "a HubRise id (non-empty string) is required")
    return value
