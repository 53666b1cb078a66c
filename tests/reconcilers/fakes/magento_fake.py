"""A local Magento 2.4 REST server (MSI source items and the product list) on 127.0.0.1, from Adobe's docs.

Documented behaviour reproduced (developer.adobe.com/commerce/webapi: rest/inventory/manage-source-items,
rest/use-rest/performing-searches, get-started/api-security, get-started/authentication; the
admin-schema-2.4.9.yaml; read 2026-12-07):
- `https://<host>/rest/<store code>/V1/...`; store codes `all`, `default` (others: 400).
- `Authorization: Bearer <token>` on every call, else 401 `{"message": "The consumer isn't authorized
  to access %resources.", "parameters": {"resources": ...}}`.
- searchCriteria: filter groups ANDed, filters inside a group ORed; condition types eq (default), in,
  nin, neq, like; `pageSize` / `currentPage`; answers `{items, search_criteria, total_count}`. A page
  past the last repeats the last page (the notes: not empty on every version). Without `pageSize`
  the whole result.
- `fields=items[sku,extension_attributes[stock_item]],total_count` trims the answer to those fields.
- the product list leaves `extension_attributes.stock_item` out although the schema documents it
  (magento/magento2#36533, 2.3 and 2.4; `list_stock_items = True` plays a store where it is fixed);
  GET /V1/stockItems/{sku} answers one product's stock item (404 for an unknown SKU).
- Web API input limits (off by default, `input_limits = True` turns them on): list inputs above 20
  → 400 `Maximum items of type "..." is 20`; `pageSize` above 300 → 400; no pageSize → 20 per page.
- GET /V1/inventory/stock-source-links (the same search): which stock each source belongs to.
- POST /V1/inventory/source-items `{"sourceItems": [...]}`: validated as a whole; sku (not empty, no
  surrounding whitespace), source_code (an existing source), quantity (a number) and status (0 or 1)
  are all required; any invalid item → 400 `{"message": "Validation Failed", "errors": [...]}` and
  nothing saved. An unknown SKU is NOT refused (magento/magento2#38154): its source item is saved.
  Success: 200 `[]` (a void method). A save at the `default` source also updates the product's legacy
  stock item (qty, is_in_stock), as MSI's legacy synchronisation does.
- no rate limit of its own; `throttle_next` answers 429 with Retry-After the way a proxy (Fastly, a
  WAF) does; `fail_next` answers 5xx.
With `spec` (tests/reconcilers/magento_spec.py), every request and answer is checked and each
refusal recorded in `violations`; without it (the contract suite, a user's clone) nothing is checked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

STORE_CODES = frozenset({"all", "default"})
INPUT_LIST_LIMIT = 20
MAX_PAGE_SIZE = 300
DEFAULT_PAGE_SIZE = 20
SOURCE_ITEM_TYPE = "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface"
# the docs write filter_groups/condition_type, the schema filterGroups/conditionType: Magento takes both
_CRITERION = re.compile(
    r"searchCriteria\[filter_?groups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(field|value|condition_?type)\]",
    re.IGNORECASE,
)


@dataclass
class FakeProduct:
    sku: str
    type_id: str = "simple"
    manage_stock: bool = True
    backorders: int = 0  # 0 no, 1 allow qty below 0, 2 allow and notify
    qty: float = 0  # the legacy stock item, kept equal to the default source
    is_in_stock: bool = False

    def as_json(self, product_id: int, *, stock_item: bool = True) -> dict[str, Any]:
        extension: dict[str, Any] = {"website_ids": [1]}
        if stock_item:
            extension["stock_item"] = self.stock_item(product_id)
        return {
            "id": product_id,
            "sku": self.sku,
            "name": f"Product {self.sku}",
            "attribute_set_id": 4,
            "price": 10,
            "status": 1,
            "visibility": 4,
            "type_id": self.type_id,
            "created_at": "2026-11-01 10:00:00",
            "updated_at": "2026-12-01 10:00:00",
            "extension_attributes": extension,
            "product_links": [],
            "options": [],
            "media_gallery_entries": [],
            "tier_prices": [],
            "custom_attributes": [{"attribute_code": "description", "value": "<p>A product</p>"}],
        }

    def stock_item(self, product_id: int) -> dict[str, Any]:
        return {
            "item_id": product_id,
            "product_id": product_id,
            "stock_id": 1,
            "qty": self.qty,
            "is_in_stock": self.is_in_stock,
            "is_qty_decimal": False,
            "show_default_notification_message": False,
            "use_config_min_qty": True,
            "min_qty": 0,
            "use_config_min_sale_qty": 1,
            "min_sale_qty": 1,
            "use_config_max_sale_qty": True,
            "max_sale_qty": 10000,
            "use_config_backorders": self.backorders == 0,
            "backorders": self.backorders,
            "use_config_notify_stock_qty": True,
            "notify_stock_qty": 1,
            "use_config_qty_increments": True,
            "qty_increments": 0,
            "use_config_enable_qty_inc": True,
            "enable_qty_increments": False,
            "use_config_manage_stock": self.manage_stock,
            "manage_stock": self.manage_stock,
            "low_stock_date": None,
            "is_decimal_divided": False,
            "stock_status_changed_auto": 0,
        }


@dataclass
class Stats:
    requests: int = 0
    reads: int = 0
    product_reads: int = 0
    write_sizes: list[int] = field(default_factory=list)
    throttled: int = 0
    unauthorized: int = 0
    refused_writes: int = 0
    stock_item_reads: int = 0


class MagentoFake:
    def __init__(self, token: str, *, sources: tuple[str, ...] = ("default",), spec: Any = None) -> None:
        self.token = token
        self.sources = set(sources)
        self.products: dict[str, FakeProduct] = {}  # by lower-cased SKU (MySQL compares them so)
        self.source_items: dict[tuple[str, str], dict[str, Any]] = {}  # (lower sku, source) → item
        # stock–source links: every source assigned to the default stock (1) unless a test unlinks it
        self.links = [
            {"stock_id": 1, "source_code": code, "priority": priority}
            for priority, code in enumerate(sources, start=1)
        ]
        self.input_limits = False  # Stores > Configuration > Services > Web API Limits
        # the product list leaves stock_item out on 2.3/2.4 (magento/magento2#36533); True: a fixed store
        self.list_stock_items = False
        self.refused_skus: set[str] = set()  # writes of these fail validation (a test's per-item refusal)
        self.throttle_next: list[float] = []  # Retry-After seconds of the next 429s
        self.fail_next: list[int] = []
        self.stats = Stats()
        self.spec = spec
        self.violations: list[str] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    # --- lifecycle and seeding -------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/rest/{store}/V1/inventory/source-items", self._list_source_items)
        app.router.add_post("/rest/{store}/V1/inventory/source-items", self._save_source_items)
        app.router.add_get("/rest/{store}/V1/products", self._list_products)
        app.router.add_get("/rest/{store}/V1/inventory/stock-source-links", self._list_links)
        app.router.add_get("/rest/{store}/V1/stockItems/{sku}", self._stock_item)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/rest/all"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def add(self, product: FakeProduct, **at_sources: tuple[float, int]) -> FakeProduct:
        """A product and its source items: source code → (quantity, status)."""
        self.products[product.sku.lower()] = product
        for source, (quantity, status) in at_sources.items():
            self.set_item(product.sku, source, quantity, status)
        return product

    def set_item(self, sku: str, source: str, quantity: float, status: int) -> None:
        """A source item as a merchant's edit in the admin (or a save) leaves it."""
        item = {"sku": sku, "source_code": source, "quantity": quantity, "status": status}
        self.source_items[(sku.lower(), source)] = item
        product = self.products.get(sku.lower())
        if product is not None and source == "default":
            product.qty, product.is_in_stock = quantity, status == 1

    def item(self, sku: str, source: str = "default") -> dict[str, Any] | None:
        return self.source_items.get((sku.lower(), source))

    # --- HTTP ------------------------------------------------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.stats.requests += 1
        body = await request.read()
        raw = request.rel_url.raw_path  # a SKU's "/" stays encoded in its path segment
        api_path = "/" + raw.split("/", 3)[-1] if raw.startswith("/rest/") else raw
        if self.spec is not None:
            self._check(
                lambda: self.spec.check_request(
                    request.method,
                    api_path,
                    query=dict(request.query),
                    body=json.loads(body) if body else None,
                )
            )
        response = await self._answer(request, handler)
        if self.spec is not None and isinstance(response, web.Response) and response.status != 429:
            answer = json.loads(response.body) if isinstance(response.body, bytes) else None
            self._check(lambda: self.spec.check_response(request.method, api_path, response.status, answer))
        return response

    def _check(self, check: Any) -> None:
        try:
            check()
        except AssertionError as violation:
            self.violations.append(str(violation))

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.throttle_next:
            self.stats.throttled += 1
            delay = self.throttle_next.pop(0)
            return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": f"{delay:g}"})
        if self.fail_next:
            return _error(self.fail_next.pop(0), "Internal Error. Details are available in Magento log file.")
        if request.match_info.get("store") not in STORE_CODES:
            return _error(400, "The store that was requested wasn't found. Verify the store and try again.")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.stats.unauthorized += 1
            resource = (
                "Magento_InventoryApi::source" if "inventory" in request.path else "Magento_Catalog::products"
            )
            return _error(401, "The consumer isn't authorized to access %resources.", {"resources": resource})
        response: web.StreamResponse = await handler(request)
        return response

    async def _list_source_items(self, request: web.Request) -> web.StreamResponse:
        self.stats.reads += 1
        return self._search(request, list(self.source_items.values()))

    async def _list_links(self, request: web.Request) -> web.StreamResponse:
        return self._search(request, [dict(link) for link in self.links])

    async def _list_products(self, request: web.Request) -> web.StreamResponse:
        self.stats.product_reads += 1
        rows = [
            p.as_json(i + 1, stock_item=self.list_stock_items) for i, p in enumerate(self.products.values())
        ]
        return self._search(request, rows)

    async def _stock_item(self, request: web.Request) -> web.StreamResponse:
        self.stats.stock_item_reads += 1
        sku = request.match_info["sku"].lower()
        ids = {key: number for number, key in enumerate(self.products, start=1)}
        if sku not in ids:
            return _error(
                404, "The product that was requested doesn't exist. Verify the product and try again."
            )
        return web.json_response(self.products[sku].stock_item(ids[sku]))

    def _search(self, request: web.Request, rows: list[dict[str, Any]]) -> web.StreamResponse:
        groups: dict[int, dict[int, dict[str, str]]] = {}
        for key, value in request.query.items():
            match = _CRITERION.fullmatch(key)
            if match:
                group, index = int(match[1]), int(match[2])
                part = "conditionType" if match[3].lower().startswith("condition") else match[3].lower()
                groups.setdefault(group, {}).setdefault(index, {})[part] = value
        paging = {k.replace("_", "").lower(): v for k, v in request.query.items()}  # page_size = pageSize
        try:
            size_text = paging.get("searchcriteria[pagesize]")
            page_size = int(size_text) if size_text is not None else None
            page = int(paging.get("searchcriteria[currentpage]", "1"))
        except ValueError:
            return _error(400, "The search criteria are invalid.")
        if page_size is None and self.input_limits:
            page_size = DEFAULT_PAGE_SIZE
        if page_size is not None and self.input_limits and page_size > MAX_PAGE_SIZE:
            return _error(400, "Maximum SearchCriteria pageSize is %max", {"max": MAX_PAGE_SIZE})
        for filters in groups.values():
            if any(
                f.get("conditionType", "eq") not in _CONDITIONS or "field" not in f for f in filters.values()
            ):
                return _error(400, "Invalid search criteria.")
            rows = [r for r in rows if any(_matches(r, f) for f in filters.values())]
        total = len(rows)
        if page_size:
            last = max(1, -(-total // page_size))
            start = (min(page, last) - 1) * page_size  # past the last page: the last page again
            rows = rows[start : start + page_size]
        criteria: dict[str, Any] = {
            "filter_groups": [
                {
                    "filters": [
                        {
                            "field": f["field"],
                            "value": f.get("value", ""),
                            "condition_type": f.get("conditionType", "eq"),
                        }
                        for _, f in sorted(groups[g].items())
                    ]
                }
                for g in sorted(groups)
            ]
        }
        if page_size:
            criteria |= {"page_size": page_size, "current_page": page}
        answer: dict[str, Any] = {"items": rows, "search_criteria": criteria, "total_count": total}
        if "fields" in request.query:
            answer = _pick(answer, _fields(request.query["fields"]))
        return web.json_response(answer)

    async def _save_source_items(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Decoding error: \nSyntax error")
        items = body.get("sourceItems") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return _error(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "sourceItems"})
        if self.input_limits and len(items) > INPUT_LIST_LIMIT:
            return _error(
                400,
                'Maximum items of type "%type" is %max',
                {"type": SOURCE_ITEM_TYPE, "max": INPUT_LIST_LIMIT},
            )
        errors = [e for item in items for e in self._invalid(item)]
        if errors:
            self.stats.refused_writes += 1
            return web.json_response({"message": "Validation Failed", "errors": errors}, status=400)
        self.stats.write_sizes.append(len(items))
        for item in items:
            self.set_item(item["sku"], item["source_code"], item["quantity"], item["status"])
        return web.json_response([])

    def _invalid(self, item: Any) -> list[dict[str, Any]]:
        if not isinstance(item, dict):
            return [{"message": "Source item data is invalid.", "parameters": []}]
        errors = []
        sku = item.get("sku")
        if not isinstance(sku, str) or not sku.strip():
            errors.append(_field_error('"%field" can not be empty.', "sku"))
        elif sku != sku.strip():
            errors.append(_field_error('"%field" can not contain leading or trailing whitespace.', "sku"))
        elif sku.lower() in {s.lower() for s in self.refused_skus}:
            errors.append(_field_error('"%field" is not valid.', "sku"))
        if item.get("source_code") not in self.sources:
            code = str(item.get("source_code"))
            errors.append(
                {"message": 'Source with code "%code" does not exist.', "parameters": {"code": code}}
            )
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int | float):
            errors.append(_field_error('"%field" should be numeric.', "quantity"))
        if item.get("status") not in (0, 1) or isinstance(item.get("status"), bool):
            errors.append(_field_error('"%field" should be a known status.', "status"))
        return errors


_CONDITIONS = frozenset({"eq", "neq", "in", "nin", "like"})


def _matches(row: dict[str, Any], criterion: dict[str, str]) -> bool:
    value = str(row.get(criterion["field"], "")).lower()  # MySQL's case-insensitive collation
    wanted = criterion.get("value", "").lower()
    condition = criterion.get("conditionType", "eq")
    listed = [w.strip() for w in wanted.split(",")]
    if condition == "in":
        return value in listed
    if condition == "nin":
        return value not in listed
    if condition == "neq":
        return value != wanted
    if condition == "like":
        return re.fullmatch(re.escape(wanted).replace("%", ".*"), value) is not None
    return value == wanted


def _fields(text: str) -> dict[str, Any]:
    """`a[b,c[d]],e` → {"a": {"b": {}, "c": {"d": {}}}, "e": {}} ({} = the whole value)."""
    tree: dict[str, Any] = {}
    stack = [tree]
    name = ""
    for char in text + ",":
        if char in ",[]":
            if name.strip():
                stack[-1][name.strip()] = {}
            if char == "[":
                stack.append(stack[-1][name.strip()])
            elif char == "]" and len(stack) > 1:
                stack.pop()
            name = ""
        else:
            name += char
    return tree


def _pick(value: Any, tree: dict[str, Any]) -> Any:
    if not tree:
        return value
    if isinstance(value, list):
        return [_pick(v, tree) for v in value]
    if isinstance(value, dict):
        return {k: _pick(v, tree[k]) for k, v in value.items() if k in tree}
    return value


def _field_error(message: str, name: str) -> dict[str, Any]:
    return {"message": message, "parameters": {"field": name}}


def _error(status: int, message: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message}
    if parameters is not None:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
