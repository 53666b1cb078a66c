"""The sandbox platform: translates our Observed/Change to the local sandbox store's HTTP API and back.

It only maps shapes; every request goes through the shared transport (retries, pacing, error mapping),
and it never decides what to write. Its server is reconcilers/sandbox_server.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from daemon.errors import ConfigError, InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed, SyncedVariant
from reconcilers.batching import all_failed, chunked, merge_results
from reconcilers.capabilities import Capabilities, RateBudget, StockModel
from reconcilers.credential_fields import token_and_secret
from reconcilers.interface import ReconcilerContext
from reconcilers.signatures import header_value, verify_base64
from reconcilers.transport import AuthError, PermanentError, TemporaryError

SIGNATURE_HEADER = "X-Sandbox-Hmac-Sha256"


class SandboxReconciler:
    """Reads items by id and writes them in batches, with compare-and-set, against a sandbox store."""

    capabilities: Capabilities = Capabilities(
        platform="sandbox",
        stock_model=StockModel.BOTH,
        max_read_batch=100,
        max_write_batch=50,
        rate_budget=RateBudget(requests_per_second=20, burst=10),
        webhook_scheme="X-Sandbox-Hmac-Sha256 base64 HMAC-SHA256",
        compare_and_set=True,
        source="sandbox_server.py (this repo)",
    )

    def __init__(self, context: ReconcilerContext) -> None:
        self._store_id = context.store.id
        self._transport = context.transport
        settings = context.store.settings
        base_url = settings.get("base_url")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"stores.{self._store_id}.settings.base_url", "an http(s) URL is required")
        self._base = base_url.rstrip("/")
        self.capabilities = _refined(type(self).capabilities, settings, self._store_id)
        self._token, self._webhook_secret = token_and_secret(context, "token", "webhook_secret")

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        ids = list(dict.fromkeys(v.external_id for v in variants))
        observed: list[Observed] = []
        for chunk in chunked(ids, self.capabilities.max_read_batch):
            response = await self._transport.request(
                "GET", f"{self._base}/api/items", params={"ids": ",".join(chunk)}, headers=self._auth()
            )
            wanted = set(chunk)
            items = _field(response.body, "items", list, "sandbox response")
            observed += [
                o for o in (_observed(i, "sandbox response") for i in items) if o.external_id in wanted
            ]
        return observed

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        results = [
            await self._apply_batch(batch) for batch in chunked(changes, self.capabilities.max_write_batch)
        ]
        return merge_results(results)

    async def _apply_batch(self, batch: Sequence[Change]) -> ApplyResult:
        try:
            response = await self._transport.request(
                "POST",
                f"{self._base}/api/items/batch",
                json={"updates": [_update(c) for c in batch]},
                headers=self._auth(),
            )
            return _mapped(batch, response.body)  # a malformed answer raises TemporaryError too
        except AuthError:
            raise  # the store's credential is wrong: a store-level problem, not one per item
        except PermanentError as exc:
            return all_failed(batch, str(exc), permanent=True)
        except TemporaryError as exc:
            return all_failed(batch, str(exc), permanent=False)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if not self._webhook_secret:
            return False
        return verify_base64(self._webhook_secret, body, header_value(headers, SIGNATURE_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Observed]:
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise InputError("webhook", "body", f"not valid JSON ({exc.__class__.__name__})") from None
        topic = _field(payload, "topic", str, "webhook")
        if topic != "item.updated":
            raise InputError("webhook", "topic", f"unsupported topic {topic[:40]!r}")
        return [_observed(_field(payload, "item", dict, "webhook"), "webhook", prefix="item.")]

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}


def _refined(base: Capabilities, settings: Mapping[str, Any], store_id: str) -> Capabilities:
    """The store's own limits (page_size, batch_limit, rate_per_s) replace the defaults when given."""
    page_size = _positive(settings, "page_size", store_id, whole=True)
    batch_limit = _positive(settings, "batch_limit", store_id, whole=True)
    rate = _positive(settings, "rate_per_s", store_id, whole=False)
    budget = base.rate_budget if rate is None else replace(base.rate_budget, requests_per_second=rate)
    return replace(
        base,
        max_read_batch=int(page_size or base.max_read_batch),
        max_write_batch=int(batch_limit or base.max_write_batch),
        rate_budget=budget,
    )


def _positive(settings: Mapping[str, Any], name: str, store_id: str, *, whole: bool) -> float | None:
    value = settings.get(name)
    if value is None:
        return None
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if not numeric or (whole and not isinstance(value, int)) or value <= 0:
        raise ConfigError(
            f"stores.{store_id}.settings.{name}", f"must be a {'whole ' if whole else ''}number > 0"
        )
    return float(value)


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
    return Observed(external_id=external_id, available=available, quantity=quantity, unlimited=unlimited)


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
