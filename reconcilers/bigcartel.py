"""Big Cartel (API v1, JSON:API): translates our Observed/Change to product option quantities.

Stock model: a product has a `status` (active, hidden, sold_out, coming_soon) and options (the
variant level, `product_options` in `included`) each with a whole `quantity` (and `sold`). An item is
one option: external id "<product id>:<option id>". It sells when the product is `active` and the
option's quantity is above 0. A seller's `sold_out` reads as unavailable (the count kept as read), so
a target that should sell is drift and our write sets the product `active` again; `hidden` and
`coming_soon` withhold the product from sale for reasons of the seller's own: a problem, never
written. An option without a quantity (none kept) sells without a count: Observed.unlimited; the
docs list `quantity` as an integer and do not say whether it can be absent (inferred, not verified).
- status mode: unavailable → 0; available → `in_stock_quantity` (default: the store's POD quantity).
- quantity mode: the count (0 when unavailable).
Writes: `PATCH /v1/accounts/{account_id}/products/{id}`, one product per request, no bulk endpoint
(write unit = product). The body is a JSON:API document listing EVERY option of the product in
`relationships.options` (JSON:API replaces a to-many relationship sent in a PATCH, so a partial list
could drop options); only options we write carry `attributes.quantity`. The option list comes from
the observation (platform_ref), so a write costs one request. The docs read here do not show the
option-update body: this shape is our reading of JSON:API, to be checked on a real shop. The answer
is the updated product, from which confirmations are read. No compare-and-set: last write wins.
Reads: a few products one GET /products/{id} each; more, the list (`page[limit]` / `page[offset]`,
default 20; no maximum documented, we ask 100 and advance by what came back, up to `meta.count`).
Every request sends `Accept` / `Content-Type: application/vnd.api+json` (else 400/406 per the docs)
and a `User-Agent` naming the app and a contact (store setting `user_agent`, required). Auth: an
OAuth access token (`Authorization: Bearer`, partner apps) or HTTP Basic with the shop's subdomain
and password (the seller's own shop). Rate limits are not documented: we pace conservatively
(2 requests/s, refinable) and honour 429 + Retry-After in the shared transport.
Webhooks (invite-only): POST {account_id, type, payload} signed with X-Webhook-Signature = hex
HMAC-SHA256 of the raw body (the app's client_secret). They are also sent for our own API writes.
The docs do not show the payload's shape (product.deleted carries the id only), so a product.*
notification re-reads that product (reread_products): an echo of our write reads back as what we
wrote, not drift. Order events change nothing here (product.updated also fires for orders).
Where the docs and our notes differ: nothing found; the notes' open points (option-update body,
page maximum, rate limits, untracked options) stay open in the docs too. Docs:
reconcilers/sources/bigcartel.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import merge_results, run_batch
from reconcilers.bigcartel_products import (
    SOLD_OUT,
    Product,
    numeric_id,
    parse_external_id,
    patch_body,
    product_unit,
    products_of,
    quantity_for,
)
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import verify_signed_body
from reconcilers.transport import PermanentError, TemporaryError
from reconcilers.webhook_json import load_webhook_json

DEFAULT_BASE_URL = "https://api.bigcartel.com/v1"
MEDIA_TYPE = "application/vnd.api+json"
SIGNATURE_HEADER = "X-Webhook-Signature"
PAGE_SIZE = 100  # no documented maximum (default 20); we advance by what each page returns
MAX_OPTIONS = 1000  # a whole product's options always fit one PATCH
SINGLE_READS = 3  # up to this many products: one GET each beats paging through the catalog
_PRODUCT_EVENTS = frozenset({"product.created", "product.updated", "product.deleted"})


class BigCartelReconciler:
    """Reads products (single GETs or offset pages) and PATCHes one product's options per call."""

    capabilities: Capabilities = Capabilities(
        platform="bigcartel",
        stock_model=StockModel.QUANTITY,
        max_read_batch=PAGE_SIZE,
        max_write_batch=MAX_OPTIONS,
        rate_budget=RateBudget(requests_per_second=2.0, burst=2),
        webhook_scheme=f"{SIGNATURE_HEADER} hex HMAC-SHA256 of the raw body (client_secret); product re-read",
        compare_and_set=False,
        source="developers.bigcartel.com/api/v1 (introduction: status codes, headers, pagination); "
        "help.bigcartel.com/developers/api/v1/products, /webhooks, /oauth (read 2026-12-07)",
        refinable=frozenset({Refinement.REQUESTS_PER_SECOND, Refinement.PAGE_SIZE}),
        unlimited="an option without a quantity (no count kept): read as unlimited; we never write a missing count",
        write_unit=WriteUnit.PARENT_PRODUCT,
        unit_key=product_unit,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._account = settings.ident("account_id", "the Big Cartel account id (digits)", digits=True)
        self._base = f"{settings.base_url(default=DEFAULT_BASE_URL, https=True)}/accounts/{self._account}"
        agent = settings.get("user_agent")
        if not isinstance(agent, str) or not agent.strip() or not agent.isprintable() or len(agent) > 200:
            raise ConfigError(settings.key("user_agent"), "required: the app's name and a contact")
        self._in_stock_quantity = settings.whole("in_stock_quantity", context.store.rules.pod_quantity)
        self._transport = context.transport
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(context, [], ["access_token", "login", "password", "client_secret"])
        self._headers = {"Accept": MEDIA_TYPE, "User-Agent": agent.strip()}
        self._auth: aiohttp.BasicAuth | None = None
        if keys["access_token"]:
            self._headers["Authorization"] = f"Bearer {keys['access_token']}"
        elif keys["login"] and keys["password"]:
            self._auth = aiohttp.BasicAuth(keys["login"], keys["password"])
        else:
            where = f"credential {context.credential.name!r} for store {context.store.id}"
            raise CredentialError(f"{where}: needs 'access_token', or 'login' (subdomain) and 'password'")
        self._client_secret = keys["client_secret"]

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        pairs = ((parse_external_id(v.external_id), v.external_id) for v in variants)
        items = list(dict.fromkeys((ids, external_id) for ids, external_id in pairs if ids is not None))
        products = await self._products({ids[0] for ids, _ in items}) if items else {}
        return [
            products[product_id].observed(external_id, option_id)
            for (product_id, option_id), external_id in items
            if product_id in products and option_id in products[product_id].options  # else: gone
        ]

    async def _products(self, wanted: set[str]) -> dict[str, Product]:
        """The wanted products the store still has: one GET each for a few, else the list's pages."""
        if len(wanted) <= SINGLE_READS:
            return {
                k: v
                for product_id in sorted(wanted, key=int)
                for k, v in (await self._one(product_id)).items()
            }
        found: dict[str, Product] = {}
        offset, limit = 0, self.capabilities.max_read_batch
        while not wanted <= set(found):
            params = {"page[limit]": str(limit), "page[offset]": str(offset)}
            answer = await self._call("GET", f"{self._base}/products", params=params)
            data = answer.body.get("data") if isinstance(answer.body, Mapping) else None
            if not isinstance(data, list):
                raise TemporaryError("bigcartel: product list answer has no data list")
            page = products_of(answer.body)
            if not page.keys() - found.keys():  # empty, or the same page again: nothing more to find
                break
            found.update(page)
            offset += len(data)
            total = _count(answer.body)
            if (total is not None and offset >= total) or (total is None and len(data) < limit):
                break
        return found

    async def _one(self, product_id: str) -> dict[str, Product]:
        try:
            answer = await self._call("GET", f"{self._base}/products/{product_id}")
        except PermanentError as exc:
            if exc.status == 404:  # deleted: its options are not found
                return {}
            raise
        return products_of(answer.body)

    async def _call(
        self, method: str, url: str, *, params: Mapping[str, str] | None = None, body: Any = None
    ) -> Any:
        headers = self._headers
        data = None
        if body is not None:
            headers = {**headers, "Content-Type": MEDIA_TYPE}
            data = json.dumps(body).encode()
        return await self._transport.request(
            method, url, params=params, data=data, headers=headers, auth=self._auth
        )

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        why = "external id must be '<product id>:<option id>'"
        bad = [c for c in batch if parse_external_id(c.external_id) is None]
        refused = ApplyResult(failed=tuple(ItemFailure(c.external_id, why, permanent=True) for c in bad))
        valid = [(c, ids) for c in batch if (ids := parse_external_id(c.external_id)) is not None]
        if not valid:
            return refused
        refs = [c.platform_ref or {} for c, _ in valid]
        listed = [str(o) for ref in refs for o in (ref.get("options") or [])]
        if not listed:  # without the product's option list a PATCH could drop options: read first
            reason = "the product's options are unknown (no observation): it is read again first"
            return merge_results(
                [refused, ApplyResult(failed=tuple(ItemFailure(c.external_id, reason) for c, _ in valid))]
            )
        product_id = valid[0][1][0]
        quantities = {ids[1]: quantity_for(c, self._in_stock_quantity) for c, ids in valid}
        revive = any(ref.get("status") == SOLD_OUT for ref in refs) and any(quantities.values())
        answer = await self._call(
            "PATCH",
            f"{self._base}/products/{product_id}",
            body=patch_body(product_id, listed, quantities, revive),
        )
        product = products_of(answer.body).get(product_id)
        if product is None:
            raise TemporaryError("bigcartel: PATCH answer is not the updated product")
        written = {c.external_id: (ids[1], quantities[ids[1]]) for c, ids in valid}
        return merge_results([refused, product.confirm(written)])

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signed_body(self._client_secret, headers, SIGNATURE_HEADER, body, encoding="hex")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """product.* names one product; its synced options are read back (the payload's shape is not
        documented, and our own writes come back this way too)."""
        event = load_webhook_json(body)
        if not isinstance(event, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        for field, ok in (
            ("type", isinstance(event.get("type"), str) and bool(event["type"])),
            ("account_id", _text(event.get("account_id")) == self._account),
        ):
            if not ok:
                raise InputError("webhook", field, "missing, or not this store's")
        if event["type"] not in _PRODUCT_EVENTS:
            return Notification()  # orders (a product.updated follows them), account events
        payload = event.get("payload")
        resource = payload.get("data", payload) if isinstance(payload, dict) else None
        product = _text(resource.get("id")) if isinstance(resource, dict) else None
        if product is None or not numeric_id(product):
            raise InputError("webhook", "payload.id", "must be a product id (digits)")
        return Notification(reread_products={product})


def _text(value: Any) -> str | None:
    """An id sent as a JSON string or integer, as text."""
    return None if isinstance(value, bool) or not isinstance(value, int | str) else str(value)


def _count(document: Any) -> int | None:
    meta = document.get("meta") if isinstance(document, Mapping) else None
    count = meta.get("count") if isinstance(meta, Mapping) else None
    if isinstance(count, str) and count.isdigit():
        return int(count)
    return count if isinstance(count, int) and not isinstance(count, bool) else None
