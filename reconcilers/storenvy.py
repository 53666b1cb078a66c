"""Storenvy (API v1): translates our Observed/Change to variant stock (`full_quantity` + `in_stock`).

Stock model: a product has variants (creating a product makes a "default" one; "inventory levels are
changed on the variant", per the POST /v1/products page). The variant fields `full_quantity` (count)
and `in_stock` (flag) are the create-variant parameters of the public node-storenvy client; their exact
meaning is not written down in the docs read, so we read availability as `in_stock` (when sent) and
`full_quantity > 0`, a null `full_quantity` with `in_stock` as selling without a count
(Observed.unlimited), and we always write both together: `{"full_quantity": n, "in_stock": n > 0}` (status mode: n is
`in_stock_quantity`, default the store's POD quantity; 0 when unsellable; an uncounted variant that
should sell is left as it is). External ids are "<productId>:<variantId>".

Writes: one absolute `PUT /v1/products/{product}/variants/{variant}.json` per variant (no batch
endpoint exists: WriteUnit.ITEM). No compare-and-set: last write wins.
Reads: `GET /v1/products/{product}/variants.json` per product with synced variants (no lookup by id
list exists); 50 objects per page, the next page is the answer's `pagination.next_url` (an `after_id`
cursor). We follow it only on our own API host and path, re-sending our own credential.
Auth: the store's API key in the `API-KEY` header (the docs also allow `?api_key=` and Basic), or an
OAuth 2 `access_token`, which the docs only show as a query parameter (the transport redacts it).
Rate limits: not documented; 2 requests/s by default (refinable), 429 + Retry-After honoured.

Webhooks: `/v1/webhooks` takes a `url` and `events` only; the docs read name no events, no payload and
NO signature. So nothing authenticates a delivery: verify_webhook accepts any body, and parse_webhook
takes from it only the product ids it names (`reread_products`), never a stock value. Anyone who knows
the URL can make us re-read up to 50 named products per request (cheap, bounded); a body naming no
product changes nothing (full passes find the rest). Our own writes come back the same way and the
re-read finds what we wrote, which is not drift.
Our notes vs the docs: notes say "auth by access_token query param"; the docs add API-KEY/Basic for
API keys (we use the header). Documentation read 2026-12-07: reconcilers/sources/storenvy.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from yarl import URL

from daemon.errors import CredentialError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.settings import StoreSettings, refined
from reconcilers.storenvy_variants import (
    as_observed,
    item_unit,
    named_products,
    planned,
    product_of_item,
    target_of,
    written,
)
from reconcilers.transport import PermanentError, TemporaryError
from reconcilers.webhook_json import load_webhook_json

DEFAULT_BASE_URL = "https://api.storenvy.com/v1"
PAGE_SIZE = 50  # "We limit the number of responses for each request to 50 objects"
WRITE_BATCH = 50  # changes per apply() call; each variant is still one PUT
MAX_PAGES = 200  # a product with more variant pages than this is a broken cursor, not a catalog
AUTH_PARAMS = frozenset({"access_token", "api_key"})


class StorenvyReconciler:
    """Reads the variants of each synced product; writes one absolute PUT per variant."""

    capabilities: Capabilities = Capabilities(
        platform="storenvy",
        stock_model=StockModel.BOTH,
        max_read_batch=PAGE_SIZE,
        max_write_batch=WRITE_BATCH,
        rate_budget=RateBudget(requests_per_second=2.0, burst=2),
        webhook_scheme=(
            "unsigned: Storenvy documents no webhook signature; a body only names products to re-read "
            "(reread_products), no value is taken from it"
        ),
        compare_and_set=False,
        source=(
            "developers.storenvy.com (API overview: envelope, pagination; authentication; endpoints; "
            "POST /v1/products) and the node-storenvy client's endpoint map, read 2026-12-07"
        ),
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.BATCH_LIMIT, Refinement.PAGE_SIZE}),
        unlimited="full_quantity null with in_stock true (inferred); never sent by us",
        write_unit=WriteUnit.ITEM,
        unit_key=item_unit,
        product_key=product_of_item,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._api = settings.base_url(default=DEFAULT_BASE_URL, https=True)
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self.capabilities = refined(type(self).capabilities, settings)
        self._transport = context.transport
        keys = credential_fields(context, [], ["api_key", "access_token"])
        api_key, token = keys["api_key"], keys["access_token"]
        if (api_key is None) == (token is None):
            where = f"credential {context.credential.name!r} for store {context.store.id}"
            raise CredentialError(f"{where}: give exactly one of 'api_key' or 'access_token'")
        self._headers = {"Accept": "application/json"}
        self._params: dict[str, str] = {}
        if api_key is not None:
            self._headers["API-KEY"] = api_key
        else:
            assert token is not None
            self._params["access_token"] = token

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted = {v.external_id: t for v in variants if (t := target_of(v.external_id)) is not None}
        found: dict[str, Any] = {}
        for product in sorted({p for p, _ in wanted.values()}):
            for variant in await self._variants(product):
                if isinstance(variant, Mapping) and (vid := variant.get("id")) is not None:
                    found[f"{product}:{vid}"] = variant
        # only what was asked for, keyed the way the store writes ids back
        return [
            as_observed(eid, found[key]) for eid, (p, v) in wanted.items() if (key := f"{p}:{v}") in found
        ]

    async def _variants(self, product: str) -> list[Any]:
        url, params = f"{self._api}/products/{product}/variants.json", dict(self._params)
        items: list[Any] = []
        for _ in range(MAX_PAGES):
            try:
                response = await self._transport.request("GET", url, params=params, headers=self._headers)
            except PermanentError as exc:
                if exc.status == 404:  # the product is gone: none of its variants is found
                    return []
                raise
            body = response.body
            page = body.get("data") if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise TemporaryError("storenvy: variants answer has no data list")
            items += page
            following = self._next_page(body.get("pagination"))
            if following is None or not page:
                return items
            url, params = following
        raise TemporaryError(f"storenvy: product {product} has more than {MAX_PAGES} variant pages")

    def _next_page(self, pagination: Any) -> tuple[str, dict[str, str]] | None:
        """The next page from `pagination.next_url`, only on our own API (its credential dropped and
        ours re-added); None when there is none."""
        raw = pagination.get("next_url") if isinstance(pagination, dict) else None
        if raw is None or raw == "":
            return None
        base, url = URL(self._api), URL(raw) if isinstance(raw, str) else None
        if url is None or url.origin() != base.origin() or not url.path.startswith(base.path):
            raise TemporaryError("storenvy: pagination.next_url is not on the configured API")
        query = {k: v for k, v in url.query.items() if k not in AUTH_PARAMS}
        return str(url.with_query(None)), {**query, **self._params}

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, unit: Sequence[Change]) -> ApplyResult:
        """One write unit = one variant = at most one absolute PUT (run_batch maps request failures)."""
        [change] = unit
        plan = planned(change, self._in_stock_quantity)
        if isinstance(plan, str):
            return ApplyResult(failed=(ItemFailure(change.external_id, plan, permanent=True),))
        if isinstance(plan, Observed):  # nothing to write: the store already shows it
            return ApplyResult(confirmed=(plan,))
        response = await self._transport.request(
            "PUT", self._api + plan.path, params=self._params or None, json=plan.body, headers=self._headers
        )
        # the answer's envelope holds the variant as saved; without one, what we sent is what it shows
        answer = response.body.get("data") if isinstance(response.body, dict) else None
        return ApplyResult(confirmed=(written(change, plan.body, answer),))

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Storenvy signs nothing: every delivery is accepted, and parse_webhook trusts no value in it."""
        return True

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        products = named_products(load_webhook_json(body))
        # unsigned: the named products are re-read from the API, the body's values are never used
        return Notification(reread_products=products)
