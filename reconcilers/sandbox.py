"""The sandbox platform: translates our Observed/Change to the local sandbox store's HTTP API and back.

It only maps shapes; every request goes through the shared transport (retries, pacing, error mapping),
and it never decides what to write. Its server is sandbox_store/server.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.errors import InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import chunked, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import Notification, ReconcilerContext
from reconcilers.observations import counted
from reconcilers.settings import StoreSettings, refined
from reconcilers.signatures import verify_signed_body
from reconcilers.transport import TemporaryError
from reconcilers.webhook_json import load_webhook_json, webhook_header, webhook_time

SIGNATURE_HEADER = "X-Sandbox-Hmac-Sha256"
DELIVERY_HEADER = "X-Sandbox-Delivery-Id"


class SandboxReconciler:
    """Reads items by id and writes them in batches, with compare-and-set, against a sandbox store."""

    capabilities: Capabilities = Capabilities(
        platform="sandbox",
        stock_model=StockModel.BOTH,
        max_read_batch=100,
        max_write_batch=50,
        rate_budget=RateBudget(requests_per_second=20, burst=10, remaining_header="X-RateLimit-Remaining"),
        webhook_scheme=f"{SIGNATURE_HEADER} base64 HMAC-SHA256 of the raw body",
        compare_and_set=True,
        source="sandbox_store/server.py (this repo)",
        refinable=frozenset(Refinement),  # the sandbox server's limits are configurable
        unlimited='"unlimited": true (available, no quantity: the store does not count the item)',
    )

    def __init__(self, context: ReconcilerContext) -> None:
        settings = StoreSettings(context.store)
        self._transport = context.transport
        self._base = settings.base_url()
        self.capabilities = refined(type(self).capabilities, settings)
        keys = credential_fields(context, ["token"], ["webhook_secret"], plain_allowed=True)
        self._auth = {"Authorization": f"Bearer {keys['token']}"}
        self._webhook_secret = keys["webhook_secret"]

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        ids = list(dict.fromkeys(v.external_id for v in variants))
        observed: list[Observed] = []
        for chunk in chunked(ids, self.capabilities.max_read_batch):
            response = await self._transport.request(
                "GET", f"{self._base}/api/items", params={"ids": ",".join(chunk)}, headers=self._auth
            )
            wanted = set(chunk)
            items = _field(response.body, "items", list, "sandbox response")
            observed += [
                o for o in (_observed(i, "sandbox response") for i in items) if o.external_id in wanted
            ]
        return observed

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return await run_batch(self.capabilities, changes, self._send)

    async def _send(self, batch: Sequence[Change]) -> ApplyResult:
        response = await self._transport.request(
            "POST",
            f"{self._base}/api/items/batch",
            json={"updates": [_update(c) for c in batch]},
            headers=self._auth,
        )
        return _mapped(batch, response.body)  # a malformed answer raises TemporaryError

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signed_body(self._webhook_secret, headers, SIGNATURE_HEADER, body, encoding="base64")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification:
        payload = load_webhook_json(body)
        topic = _field(payload, "topic", str, "webhook")
        if topic != "item.updated":
            raise InputError("webhook", "topic", f"unsupported topic {topic[:40]!r}")
        raw = _field(payload, "item", dict, "webhook")
        return Notification(
            [_observed(raw, "webhook", prefix="item.")],
            delivery_id=webhook_header(headers, DELIVERY_HEADER),
            occurred_at=webhook_time(raw, "updated_at", "item.updated_at"),  # a replay repeats it
        )


def _update(change: Change) -> dict[str, Any]:
    update: dict[str, Any] = {
        "external_id": change.external_id,
        "available": change.target.available,
        "quantity": change.target.quantity,  # None: status mode, the store stops managing a count
    }
    if change.expected is not None:
        update["expected"] = {"available": change.expected.available, "quantity": change.expected.quantity}
    return update


def _mapped(batch: Sequence[Change], body: Any) -> ApplyResult:
    by_id: dict[str, Mapping[str, Any]] = {}
    for result in _field(body, "results", list, "sandbox response"):
        if isinstance(result, dict) and isinstance(result.get("external_id"), str):
            by_id[result["external_id"]] = result
    confirmed: list[Observed] = []
    failed: list[ItemFailure] = []
    for change in batch:
        result = by_id.get(change.external_id)
        if result is None:
            failed.append(ItemFailure(change.external_id, "the store's answer has no result for this item"))
        elif result.get("status") == "ok":
            confirmed.append(_observed(_field(result, "item", dict, "sandbox response"), "sandbox response"))
        else:
            reason = f"{result.get('code', 'error')}: {str(result.get('message', ''))[:200]}"
            failed.append(
                ItemFailure(change.external_id, reason, permanent=not result.get("retryable", False))
            )
    return ApplyResult(confirmed=tuple(confirmed), failed=tuple(failed))


def _observed(item: Any, where: str, prefix: str = "") -> Observed:
    if not isinstance(item, dict):
        raise _bad(where, prefix.rstrip(".") or "item", "must be a JSON object")
    external_id = _field(item, "external_id", str, where, prefix)
    available = _field(item, "available", bool, where, prefix)
    quantity = item.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
        raise _bad(where, f"{prefix}quantity", "must be a whole number or null")
    unlimited = item.get("unlimited", False)  # older sandbox state has no such field
    if not isinstance(unlimited, bool):
        raise _bad(where, f"{prefix}unlimited", "must be true or false")
    return counted(external_id, available, quantity, unlimited=unlimited)


def _field(obj: Any, name: str, kind: type, where: str, prefix: str = "") -> Any:
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (kind is str and not value):
        raise _bad(where, f"{prefix}{name}", f"missing or not a {kind.__name__}")
    return value


def _bad(where: str, field: str, reason: str) -> Exception:
    # a broken answer from the store is worth retrying later; a broken webhook body is bad input
    if where == "webhook":
        return InputError(where, field, reason)
    return TemporaryError(f"sandbox: {field}: {reason}")
