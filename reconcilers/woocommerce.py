"""WooCommerce (REST API wc/v3): translates our Observed/Change to product stock fields and back.

Stock model: every simple product and every variation has `stock_status` (instock | outofstock |
onbackorder) and, when `manage_stock` is on, a `stock_quantity`. External ids are "<product_id>" for
a simple product and "<product_id>:<variation_id>" for a variation (variations only exist under
their parent: /products/{id}/variations). `onbackorder` is sellable (the storefront takes orders), so
it maps to available=True. With managed stock WooCommerce *derives* stock_status on every save
(quantity above the no-stock threshold → instock, else onbackorder if backorders are allowed, else
outofstock), so a written stock_status alone would be overridden: writes for managed items set the
quantity, and "unavailable" also sets backorders "no" so the storefront really stops selling.
- quantity mode: manage_stock true + stock_quantity (+ the matching stock_status, + backorders "no"
  when the target is unsellable); a variation managed by its parent then manages its own count.
- status mode: unmanaged items get stock_status instock/outofstock; managed items get stock_quantity
  (`in_stock_quantity`, default the store's POD quantity) or 0 + backorders "no". A variation whose
  stock is managed by its parent (manage_stock "parent") is refused: writing it would change the
  stock of every sibling.
There is no compare-and-set in WooCommerce: last write wins. Confirmations are built from the objects
the batch answers with, so a write the store overrode is reported as a failure, not as success.

It only maps shapes: every request goes through the shared transport (retries, 429 + Retry-After,
errors) and it never decides what to write. Documentation read 2026-11-23:
- https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication - HTTP Basic with the
  consumer key/secret over HTTPS (plain HTTP needs OAuth 1.0a: not supported, loopback excepted).
- https://woocommerce.github.io/woocommerce-rest-api-docs/#pagination - page/per_page (max 100),
  X-WP-Total, X-WP-TotalPages and Link headers.
- https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products and
  #list-all-product-variations - `include` filter; #product-properties and
  #product-variation-properties - manage_stock, stock_quantity, stock_status, backorders.
- https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-products and
  #batch-update-product-variations - {"update": [...]}, "up to 100 objects"; core
  Version3/class-wc-rest-controller.php check_batch_limit(): filter woocommerce_rest_batch_items_limit
  (default 100) counts create+update+delete, over → HTTP 413 woocommerce_rest_request_entity_too_large;
  batch_items() answers each failed update as {"id", "error": {"code", "message", "data"}}.
- core includes/abstracts/abstract-wc-product.php validate_props() - stock_status derived from the
  quantity when stock is managed (woocommerce_notify_no_stock_amount, backorders).
- https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks and core
  includes/class-wc-webhook.php - product.updated fires on woocommerce_update_product and
  woocommerce_update_product_variation; the payload is GET /wc/v3/products/{id} of the product or
  variation (type "variation" + parent_id); X-WC-Webhook-Signature = base64 HMAC-SHA256 of the raw
  body keyed with the webhook secret; X-WC-Webhook-Topic/-Resource/-ID; on creation an unsigned ping
  `webhook_id=<id>` (form body) must answer 200. Order stock reductions fire
  woocommerce_product_set_stock, not product.updated: full passes catch those.
- Rate limits: core has none; hosts/WAFs answer 429 (+ Retry-After), so a conservative per-store
  pace (`requests_per_second`, default 2: each batch write runs up to 100 full product saves in PHP).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
from yarl import URL

from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, StoreConfig, SyncedVariant
from daemon.store_values import out_of_range, whole_count
from reconcilers.batching import all_failed, chunked, merge_results
from reconcilers.capabilities import Capabilities, RateBudget, StockModel
from reconcilers.interface import ReconcilerContext
from reconcilers.pagination import numbered_pages
from reconcilers.signatures import header_value, verify_base64
from reconcilers.transport import PermanentError, TemporaryError

API_PATH = "/wp-json/wc/v3"  # the one place the API version is pinned
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
PAGE_SIZE = 100  # per_page maximum
BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit default
DEFAULT_REQUESTS_PER_SECOND = 2.0
FIELDS = "id,parent_id,type,manage_stock,stock_quantity,stock_status,backorders"
_SELLABLE = {"instock": True, "onbackorder": True, "outofstock": False}
_PRODUCT_TOPICS = frozenset({"product.updated", "product.created", "product.restored"})
_PING = re.compile(rb"\s*webhook_id=\d+\s*")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

Target = tuple[int, int | None]  # (product id, variation id)


class WooCommerceReconciler:
    """Reads with `include=` list filters, writes with the /batch endpoints (100 objects each)."""

    capabilities: Capabilities = Capabilities(
        platform="woocommerce",
        stock_model=StockModel.BOTH,
        max_read_batch=PAGE_SIZE,
        max_write_batch=BATCH_LIMIT,
        rate_budget=RateBudget(requests_per_second=DEFAULT_REQUESTS_PER_SECOND, burst=1),
        webhook_scheme="X-WC-Webhook-Signature base64 HMAC-SHA256 of the raw body (webhook secret)",
        compare_and_set=False,
        source=(
            "woocommerce.github.io/woocommerce-rest-api-docs #authentication #pagination "
            "#list-all-products #list-all-product-variations #batch-update-products #webhooks; core "
            "class-wc-rest-controller.php check_batch_limit/batch_items, class-wc-webhook.php, "
            "abstract-wc-product.php validate_props (read 2026-11-23); API " + API_PATH
        ),
    )

    def __init__(self, context: ReconcilerContext) -> None:
        store = context.store
        self._transport = context.transport
        self._api = _api_root(store.settings, store.id)
        self._in_stock_quantity = int(_positive(store, "in_stock_quantity", store.rules.pod_quantity, int))
        rate = _positive(store, "requests_per_second", DEFAULT_REQUESTS_PER_SECOND, float)
        self.capabilities = replace(
            type(self).capabilities, rate_budget=RateBudget(requests_per_second=float(rate), burst=1)
        )
        self._keys, self._webhook_secret = _read_credential(context)

    # --- observe ---------------------------------------------------------------------------------

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        wanted = {t for t in (_target(v.external_id) for v in variants) if t is not None}
        simple = sorted(p for p, v in wanted if v is None)
        by_parent: dict[int, list[int]] = {}
        for product, variation in sorted(wanted, key=lambda t: (t[0], t[1] or 0)):
            if variation is not None:
                by_parent.setdefault(product, []).append(variation)
        objects: list[tuple[int | None, dict[str, Any]]] = []
        for chunk in chunked(simple, PAGE_SIZE):
            objects += [(None, o) for o in await self._list(f"{self._api}/products", chunk)]
        for parent, ids in by_parent.items():
            url = f"{self._api}/products/{parent}/variations"
            for chunk in chunked(ids, PAGE_SIZE):
                objects += [(parent, o) for o in await self._list(url, chunk)]
        observed = [_observed(o, parent) for parent, o in objects]
        # only what was asked for: a store may answer extra or differently-typed objects
        return [o for o in observed if _target(o.external_id) in wanted]

    async def _list(self, url: str, ids: Sequence[int]) -> list[dict[str, Any]]:
        async def page(number: int) -> tuple[list[dict[str, Any]], int | None]:
            params = {
                "include": ",".join(map(str, ids)),
                "per_page": str(PAGE_SIZE),
                "page": str(number),
                "_fields": FIELDS,
            }
            response = await self._transport.request("GET", url, params=params, auth=self._keys.basic())
            if not isinstance(response.body, list):
                raise TemporaryError(f"woocommerce: GET {URL(url).path} did not answer a list")
            total = response.headers.get("X-WP-TotalPages")
            items = [o for o in response.body if isinstance(o, dict)]
            return items, _id(total.strip()) if total is not None else None

        return [item async for items in numbered_pages(page) for item in items]

    # --- apply -----------------------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        groups: dict[int | None, list[tuple[Change, dict[str, Any]]]] = {}
        failed: list[ItemFailure] = []
        for change in changes:
            target = _target(change.external_id)
            if target is None:
                why = "external id must be '<product_id>' or '<product_id>:<variation_id>'"
                failed.append(ItemFailure(change.external_id, why, permanent=True))
                continue
            entry = self._entry(change, target)
            if isinstance(entry, ItemFailure):
                failed.append(entry)
                continue
            groups.setdefault(target[0] if target[1] is not None else None, []).append((change, entry))
        results = [ApplyResult(failed=tuple(failed))]
        for parent, entries in groups.items():
            url = (
                f"{self._api}/products/batch"
                if parent is None
                else f"{self._api}/products/{parent}/variations/batch"
            )
            for chunk in chunked(entries, BATCH_LIMIT):
                results.append(await self._write(url, parent, chunk))
        return merge_results(results)

    def _entry(self, change: Change, target: Target) -> dict[str, Any] | ItemFailure:
        """The absolute update for one item (never a delta: a retried batch writes the same values)."""
        entry: dict[str, Any] = {"id": target[1] if target[1] is not None else target[0]}
        wanted = change.target
        managed = (change.platform_ref or {}).get("manage_stock")
        if wanted.quantity is not None:
            quantity = max(wanted.quantity, 0)
            sellable = wanted.available and quantity > 0
            entry.update(manage_stock=True, stock_quantity=quantity)
        elif managed == "parent":
            why = "stock is managed by the parent product (manage_stock=parent): use quantity mode"
            return ItemFailure(change.external_id, why, permanent=True)
        elif managed is True:
            sellable = wanted.available
            entry["stock_quantity"] = self._in_stock_quantity if sellable else 0
        else:
            entry["stock_status"] = "instock" if wanted.available else "outofstock"
            return entry
        entry["stock_status"] = "instock" if sellable else "outofstock"
        if not sellable:  # with backorders allowed, 0 would derive "onbackorder": still sellable
            entry["backorders"] = "no"
        return entry

    async def _write(
        self, url: str, parent: int | None, chunk: Sequence[tuple[Change, dict[str, Any]]]
    ) -> ApplyResult:
        try:
            response = await self._transport.request(
                "POST", url, json={"update": [entry for _, entry in chunk]}, auth=self._keys.basic()
            )
        except PermanentError as exc:  # AuthError included: no item of this batch can pass as is
            return all_failed((c for c, _ in chunk), str(exc), permanent=True)
        except TemporaryError as exc:
            return all_failed((c for c, _ in chunk), str(exc), permanent=False)
        return _mapped(chunk, parent, response.body)

    # --- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        signature = header_value(headers, SIGNATURE_HEADER)
        if signature is None and _is_ping(body):
            return True  # the unsigned creation ping carries nothing but the webhook id
        if not self._webhook_secret:
            return False
        return verify_base64(self._webhook_secret, body, signature)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Observed]:
        if header_value(headers, SIGNATURE_HEADER) is None and _is_ping(body):
            return []
        topic = (header_value(headers, "X-WC-Webhook-Topic") or "product.updated").strip().lower()
        if topic not in _PRODUCT_TOPICS:
            return []  # deletions carry only an id; other resources are not stock
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise InputError("webhook", "body", f"not valid JSON ({exc.__class__.__name__})") from None
        if not isinstance(payload, dict):
            raise InputError("webhook", "body", "must be a JSON object")
        _numeric(payload, "id")
        parent = _numeric(payload, "parent_id") if payload.get("type") == "variation" else None
        status = payload.get("stock_status")
        if status is not None and status not in _SELLABLE:
            raise InputError("webhook", "stock_status", "must be instock, outofstock or onbackorder")
        return [_observed(payload, parent)]


def _observed(obj: Mapping[str, Any], parent: int | None) -> Observed:
    """Normalise one product/variation object; `parent` set means it is a variation of that product."""
    external_id = f"{parent}:{obj['id']}" if parent is not None else str(obj.get("id"))
    manage = obj.get("manage_stock")
    ref: dict[str, Any] = {"manage_stock": manage}
    if isinstance(obj.get("backorders"), str):
        ref["backorders"] = obj["backorders"]  # yes/notify keep selling at 0: shown to support
    available = _SELLABLE.get(str(obj.get("stock_status")))
    if available is None:
        return Observed(external_id, None, None, ref)
    quantity = obj.get("stock_quantity")
    managed = manage is True or manage == "parent"
    if managed and isinstance(quantity, float) and whole_count(quantity) is None:
        return Observed(external_id, None, None, ref, problem=out_of_range(quantity))
    if not managed or isinstance(quantity, bool) or not isinstance(quantity, int):
        quantity = None
    # sellable with stock not managed: the store sells without a count (unlimited)
    return Observed(external_id, available, quantity, ref, unlimited=available and not managed)


def _mapped(chunk: Sequence[tuple[Change, dict[str, Any]]], parent: int | None, body: Any) -> ApplyResult:
    """Per-item outcome of a batch: each `update` entry is the saved object or {"id", "error"}."""
    answers = body.get("update") if isinstance(body, dict) else None
    if not isinstance(answers, list):
        return all_failed(
            (c for c, _ in chunk), "woocommerce: the batch answer has no update list", permanent=False
        )
    by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
    confirmed: list[Observed] = []
    failed: list[ItemFailure] = []
    for change, entry in chunk:
        answer = by_id.get(entry["id"])
        if answer is None:
            failed.append(ItemFailure(change.external_id, "missing from the batch answer"))
        elif isinstance(answer.get("error"), dict):
            failed.append(_item_error(change.external_id, answer["error"]))
        else:
            shown = _observed(answer, parent)
            # every entry states the sellable state it means; managed stock may derive another one
            meant = (entry["stock_status"] == "instock", entry.get("stock_quantity", shown.quantity))
            if (shown.available, shown.quantity) != meant:
                why = (
                    f"saved, but the store shows stock_status={answer.get('stock_status')!s:.20} "
                    f"stock_quantity={answer.get('stock_quantity')!s:.12} (derived from its stock settings)"
                )
                failed.append(ItemFailure(change.external_id, why))
            else:
                confirmed.append(replace(shown, external_id=change.external_id))
    return ApplyResult(confirmed=tuple(confirmed), failed=tuple(failed))


def _item_error(external_id: str, error: Mapping[str, Any]) -> ItemFailure:
    data = error.get("data")
    status = data.get("status") if isinstance(data, dict) else None
    code = str(error.get("code") or "error")[:80]
    message = str(error.get("message") or "")[:160]
    # a 4xx (invalid id, invalid value) repeats identically; anything else may pass later
    permanent = isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429)
    return ItemFailure(external_id, f"{code}: {message}", permanent=permanent)


def _target(external_id: str) -> Target | None:
    """'12' → (12, None); '12:34' → (12, 34); anything else (also '012', '²') → None."""
    product, colon, variation = external_id.partition(":")
    product_id = _id(product)
    if product_id is None or not colon:
        return None if product_id is None else (product_id, None)
    variation_id = _id(variation)
    return None if variation_id is None else (product_id, variation_id)


def _id(text: str) -> int | None:
    """A WooCommerce id written the way the store writes it back; str.isdigit alone also accepts
    '²' (int() then raises) and '٣' or '012' (which would come back as a different external id)."""
    if not (text.isascii() and text.isdigit()) or text.startswith("0"):
        return None
    return int(text)


def _numeric(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError("webhook", name, "missing or not a positive integer id")
    return value


def _is_ping(body: bytes) -> bool:
    return _PING.fullmatch(body) is not None


def _positive(store: StoreConfig, name: str, default: float, kind: type[int] | type[float]) -> float:
    """A number > 0 from the store settings (`kind` int: whole numbers only)."""
    value = store.settings.get(name, default)
    allowed = int if kind is int else int | float
    if isinstance(value, bool) or not isinstance(value, allowed) or value <= 0:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"stores.{store.id}.settings.{name}", f"must be {what} > 0")
    return float(value)


def _api_root(settings: Mapping[str, Any], store_id: str) -> str:
    """The site root from settings `base_url`; HTTPS only (Basic auth), plain HTTP on loopback only."""
    base = settings.get("base_url")
    key = f"stores.{store_id}.settings.base_url"
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(key, "required: the shop's site URL, e.g. https://shop.example.com")
    url = URL(base.strip())
    if url.scheme not in ("http", "https") or not url.host or url.query_string:
        raise ConfigError(key, "must be an http(s) URL without a query string")
    if url.scheme == "http" and url.host not in _LOOPBACK:
        raise ConfigError(key, "must use https: consumer keys are sent with HTTP Basic auth")
    return f"{str(url).rstrip('/')}{API_PATH}"


class _Keys:
    """The consumer key pair; built into a BasicAuth per request so no long-lived repr shows it."""

    __slots__ = ("_key", "_secret")

    def __init__(self, key: str, secret: str) -> None:
        self._key, self._secret = key, secret

    def basic(self) -> aiohttp.BasicAuth:
        return aiohttp.BasicAuth(self._key, self._secret)

    def __repr__(self) -> str:
        return "_Keys(<redacted>)"


def _read_credential(context: ReconcilerContext) -> tuple[_Keys, str | None]:
    """JSON {"consumer_key", "consumer_secret", "webhook_secret"}; errors never show values."""
    secret = context.credential
    where = f"credential {secret.name!r} for store {context.store.id}"
    parsed = secret.json()
    key, consumer_secret = parsed.get("consumer_key"), parsed.get("consumer_secret")
    for name, value in (("consumer_key", key), ("consumer_secret", consumer_secret)):
        if not isinstance(value, str) or not value:
            raise CredentialError(f"{where}: {name!r} is missing")
    webhook_secret = parsed.get("webhook_secret")
    if webhook_secret is not None and not isinstance(webhook_secret, str):
        raise CredentialError(f"{where}: 'webhook_secret' must be a string")
    return _Keys(str(key), str(consumer_secret)), webhook_secret or None
