"""HubRise (API v1): translates our Observed/Change to a location's catalog inventory and back.

Stock model: one inventory per (catalog, location); each entry is {"sku_ref" | "option_ref", "stock"}
with `stock` a decimal string (up to 3 decimals; older docs: a JSON number, both are parsed). "0" means
out of stock; a SKU/option with NO entry has an unlimited supply (available, no count). External ids
are "sku:<sku ref>" or "option:<option ref>" (catalog refs, not HubRise ids: inventory entries only
reference refs, so items without a ref cannot be synced). Only "0" is out: a fractional stock reads
as the next whole count (sellable, and never equal to a lower count we wrote).
- status mode (target.quantity None): unavailable → stock "0"; available → stock null, which PATCH
  documents as "remove the entry" = unlimited.
- quantity mode: stock = str(quantity) ("0" when the target is unavailable).
Writes use PATCH only: PUT replaces the WHOLE inventory and would wipe entries we do not own. There is
no compare-and-set: last write wins. PATCH answers with the modified entries only (older docs: 204,
no body): an entry we sent that is missing was either already so or not applied (a ref the catalog
does not have), so one GET tells which before anything is recorded as written. A 422 refuses the
whole PATCH (its `errors[]` reach the reason) without saying which entry is bad, so a refused batch
is split in halves (at most SPLIT_REQUESTS extra requests per apply) to fail only the bad ones.
The inventory is read once per reconciler (one pass), however many chunks the engine observes.

It only maps shapes: every request goes through the shared transport (retries, 429 + Retry-After,
errors) and it never decides what to write. Documentation read 2026-11-23: reconcilers/sources/hubrise.md.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from yarl import URL

from daemon.errors import InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import all_failed, merge_results, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, RateWindow, Refinement, StockModel
from reconcilers.credential_fields import credential_fields
from reconcilers.hubrise_entries import (
    UNLIMITED,
    BadEntryError,
    as_observed,
    entry_for,
    key_of,
    parse_external_id,
    read_entries,
    stock_of,
)
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import verify_signed_body
from reconcilers.transport import AuthError, PermanentError, TemporaryError
from reconcilers.webhook_json import load_webhook_json, webhook_time

API_VERSION = "v1"
DEFAULT_BASE_URL = f"https://api.hubrise.com/{API_VERSION}"
SIGNATURE_HEADER = "X-HubRise-Hmac-SHA256"
TOKEN_HEADER = "X-Access-Token"
# not a documented maximum: a cap so one PATCH body stays reasonably small
DEFAULT_WRITE_BATCH = 500
# extra PATCHes one apply() may spend isolating the entries a 422 refused (~2 per halving level)
SPLIT_REQUESTS = 20
# one pass observes in chunks within seconds; a reconciler kept longer reads the inventory again
INVENTORY_TTL_S = 60.0


class HubRiseReconciler:
    """Reads a location's whole inventory in one GET and PATCHes only the entries we own."""

    capabilities: Capabilities = Capabilities(
        platform="hubrise",
        stock_model=StockModel.BOTH,
        max_read_batch=10_000,  # one GET returns the whole inventory whatever the number of variants
        max_write_batch=DEFAULT_WRITE_BATCH,
        # paced at the hourly limit so a busy hour never locks us out until the next one
        rate_budget=RateBudget(
            requests_per_second=2500 / 3600,
            burst=10,
            windows=(RateWindow(500, 60), RateWindow(2500, 3600), RateWindow(10_000, 86_400)),
        ),
        webhook_scheme=f"{SIGNATURE_HEADER} hex HMAC-SHA256 of the raw body (client secret)",
        compare_and_set=False,
        source=(
            "github.com/HubRise/website content/developers/api/en/catalogs.md §14 Inventories, "
            "callbacks.md, authentication.md, general-concepts.md (read 2026-11-23)"
        ),
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT}),
        unlimited="no inventory entry (PATCH stock: null removes it)",
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        base = settings.base_url(default=DEFAULT_BASE_URL)
        self._catalog_id = settings.ident("catalog_id", "a HubRise id (non-empty string)")
        self._location_id = settings.ident("location_id", "a HubRise id (non-empty string)")
        self._url = str(
            URL(base + "/catalogs") / self._catalog_id / "locations" / self._location_id / "inventory"
        )
        self._transport = context.transport
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(context, ["access_token"], ["client_secret"], plain_allowed=True)
        self._headers = {TOKEN_HEADER: str(keys["access_token"])}
        self._client_secret = keys["client_secret"]
        self._inventory: tuple[float, dict[tuple[str, str], Decimal | BadEntryError | None]] | None = None

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted = {v.external_id: key for v in variants if (key := parse_external_id(v.external_id))}
        if not wanted:
            return []
        stocks = await self._read(cached=True)
        # an external id the inventory does not list has an unlimited supply: available, no count
        return [as_observed(eid, stocks.get(key, UNLIMITED)) for eid, key in wanted.items()]

    async def _read(self, *, cached: bool) -> dict[tuple[str, str], Decimal | BadEntryError | None]:
        if cached and self._inventory is not None and time.monotonic() - self._inventory[0] < INVENTORY_TTL_S:
            return self._inventory[1]
        response = await self._transport.request("GET", self._url, headers=self._headers)
        if not isinstance(response.body, list):
            raise TemporaryError("hubrise: inventory answer is not a JSON list")
        self._inventory = (time.monotonic(), read_entries(response.body))
        return self._inventory[1]

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        bad = [c for c in batch if parse_external_id(c.external_id) is None]
        why = "external id must be 'sku:<ref>' or 'option:<ref>'"
        refused = ApplyResult(failed=tuple(ItemFailure(c.external_id, why, permanent=True) for c in bad))
        valid = [c for c in batch if c not in bad]
        result = await self._patch(valid, _SplitBudget(SPLIT_REQUESTS)) if valid else ApplyResult()
        return merge_results([refused, result])

    async def _patch(self, batch: Sequence[Change], splits: _SplitBudget) -> ApplyResult:
        entries = [entry_for(c) for c in batch]
        try:
            response = await self._transport.request("PATCH", self._url, json=entries, headers=self._headers)
        except AuthError:
            raise  # the credential: run_batch stops the store's other units too
        except PermanentError as exc:
            if exc.status == 422 and len(batch) > 1 and splits.take(2):
                # the whole PATCH was refused for some entry: halve to write the others
                half = len(batch) // 2
                return merge_results(
                    [await self._patch(batch[:half], splits), await self._patch(batch[half:], splits)]
                )
            return all_failed(batch, str(exc), permanent=True)
        except TemporaryError as exc:  # caught here too: one half's outage must not lose the other's
            return all_failed(batch, str(exc), permanent=False)
        keys = [key_of(c) for c in batch]
        sent: dict[tuple[str, str], Decimal | BadEntryError | None] = {
            key: stock_of(entry["stock"]) for key, entry in zip(keys, entries, strict=True)
        }
        if not isinstance(response.body, list):  # the older 204 answer lists nothing: trust it
            answered = sent
        else:
            answered = read_entries(response.body)
            if set(sent) - set(answered):  # absent: already so, or not applied; the inventory tells
                answered = {**(await self._read(cached=False)), **answered}
        confirmed: list[Observed] = []
        failed: list[ItemFailure] = []
        for change, key in zip(batch, keys, strict=True):
            shown = answered.get(key, UNLIMITED)
            if shown != sent[key]:
                why = "not applied by HubRise (is the ref in the catalog?)"
                failed.append(ItemFailure(change.external_id, why, permanent=True))
            else:
                confirmed.append(as_observed(change.external_id, shown, change.platform_ref))
        return ApplyResult(tuple(confirmed), tuple(failed))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signed_body(self._client_secret, headers, SIGNATURE_HEADER, body, encoding="hex")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        event = load_webhook_json(body)
        if not isinstance(event, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        if event.get("resource_type") != "inventory":
            raise InputError(
                "webhook", "resource_type", f"unsupported {str(event.get('resource_type'))[:40]!r}"
            )
        # an inventory is per (catalog, location): another pair's entries are not this store's
        ours = event.get("location_id", self._location_id) == self._location_id
        if not ours or event.get("catalog_id", self._catalog_id) != self._catalog_id:
            return Notification()
        delivery, occurred = _event_id(event), webhook_time(event, "created_at")
        if event.get("event_type") == "update":  # documented without state: re-read the inventory
            return Notification(reread=True, delivery_id=delivery, occurred_at=occurred)
        if event.get("event_type") != "patch":
            raise InputError("webhook", "event_type", f"unsupported {str(event.get('event_type'))[:40]!r}")
        changes = event.get("state_change")
        if not isinstance(changes, list):
            raise InputError("webhook", "state_change", "missing or not a list")
        try:
            stocks = read_entries(changes, strict=True)
        except BadEntryError as exc:
            raise InputError("webhook", "state_change", str(exc)) from None
        items = [as_observed(f"{kind}:{ref}", stock) for (kind, ref), stock in stocks.items()]
        return Notification(items, delivery_id=delivery, occurred_at=occurred)


class _SplitBudget:
    """How many extra PATCHes one apply() may still spend halving 422-refused batches."""

    def __init__(self, requests: int) -> None:
        self._left = requests

    def take(self, requests: int) -> bool:
        if self._left < requests:
            return False
        self._left -= requests
        return True


def _event_id(event: Mapping[str, Any]) -> str | None:
    value = event.get("id")
    return value[:100] if isinstance(value, str) and value else None
