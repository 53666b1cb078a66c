"""The sandbox store's data and rules: items, writes, faults, rate budget, request validation.

Plain in-memory state with no I/O besides loading/saving its JSON state file, so the HTTP layer in
server.py stays a thin translation. It never talks to the network and never sleeps.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import json
import math
import os
import tempfile
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class SandboxConfig:
    """How one sandbox store behaves (limits, rate, webhooks, persistence)."""

    token: str
    page_size: int = 100
    batch_limit: int = 50
    rate_per_s: float | None = None
    burst: int = 10
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_on_api_writes: bool = True
    state_file: Path | None = None
    latency_ms: int = 0

    def __repr__(self) -> str:
        # the token and webhook secret must never show up in logs or test output
        return (
            f"SandboxConfig(page_size={self.page_size}, batch_limit={self.batch_limit}, "
            f"rate_per_s={self.rate_per_s}, burst={self.burst}, webhook_url={self.webhook_url!r})"
        )


@dataclass(frozen=True)
class SandboxItem:
    """One item as the store shows it; quantity None means the store does not manage its stock.

    `unlimited`: the merchant lets it sell without any count (available, quantity None), like a
    HubRise item without an inventory entry. Any write or edit of a value ends it.
    """

    external_id: str
    available: bool
    quantity: int | None
    updated_at: str
    unlimited: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "available": self.available,
            "quantity": self.quantity,
            "unlimited": self.unlimited,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class WriteRecord:
    """One item write accepted through the API (manual edits and seeding are not writes)."""

    external_id: str
    available: bool
    quantity: int | None
    at: float
    batch_id: int

    def to_json(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "available": self.available,
            "quantity": self.quantity,
            "at": self.at,
            "batch_id": self.batch_id,
        }


@dataclass(frozen=True)
class ApiCall:
    """One /api request as the store saw it: arrival (monotonic seconds), its answer, any Retry-After.

    status None: no answer at all (an injected hang the client gave up on, or a connection reset).
    """

    at: float
    route: str
    status: int | None
    retry_after_s: float | None = None


_CALLS_KEPT = 10_000


@dataclass
class SandboxStats:
    """Counters tests and benchmarks read; mutated only by the server."""

    requests: dict[str, int] = field(default_factory=dict)
    calls: deque[ApiCall] = field(default_factory=lambda: deque(maxlen=_CALLS_KEPT))
    reads: int = 0
    write_batches: int = 0
    items_written: int = 0
    throttled_429: int = 0
    faults_injected: int = 0
    webhooks_sent: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "reads": self.reads,
            "write_batches": self.write_batches,
            "items_written": self.items_written,
            "throttled_429": self.throttled_429,
            "faults_injected": self.faults_injected,
            "webhooks_sent": self.webhooks_sent,
        }


FaultKind = Literal["permanent", "temporary"]


@dataclass
class Faults:
    """Failures injected through /control/faults, consumed by /api requests."""

    fail_items: dict[str, FaultKind] = field(default_factory=dict)
    next_statuses: list[int] = field(default_factory=list)
    malformed_next: int = 0
    hang_next: int = 0  # answer nothing until the client gives up (its timeout)
    reset_next: int = 0  # close the connection (TCP reset) without an answer
    latency_ms: int = 0

    def clear(self) -> None:
        self.fail_items.clear()
        self.next_statuses.clear()
        self.malformed_next = self.hang_next = self.reset_next = self.latency_ms = 0


class BadRequest(Exception):
    """A request the store refuses as a whole: names the field and the reason."""

    def __init__(self, field_name: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field_name = field_name
        self.status = status


@dataclass(frozen=True)
class Update:
    """One validated item update from a write batch or a seed."""

    external_id: str
    available: bool
    quantity: int | None
    expected: tuple[bool, int | None] | None = None
    unlimited: bool = False


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TokenBucket:
    """Requests per second with a burst; answers how long a refused caller should wait."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self._rate = rate_per_s
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._at = time.monotonic()

    def take(self) -> tuple[bool, int, int]:
        """(allowed, remaining whole tokens, retry-after seconds >= 1 when refused)."""
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True, int(self._tokens), 0
        wait = math.ceil((1.0 - self._tokens) / self._rate)
        return False, 0, max(1, wait)


# ---------------------------------------------------------------- validation of JSON payloads


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(where, "must be true or false")
    return value


def _quantity(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(where, "must be a whole number or null")
    return value


def _external_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255 or "," in value:
        raise BadRequest(where, "must be a non-empty string without commas")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(where, "must be a JSON object")
    return value


def parse_update(raw: Any, where: str, *, allow_expected: bool) -> Update:
    obj = _object(raw, where)
    for name in ("external_id", "available", "quantity"):
        if name not in obj:
            raise BadRequest(f"{where}.{name}", "is required")
    expected = None
    if allow_expected and obj.get("expected") is not None:
        exp = _object(obj["expected"], f"{where}.expected")
        expected = (
            _bool(exp.get("available"), f"{where}.expected.available"),
            _quantity(exp.get("quantity"), f"{where}.expected.quantity"),
        )
    update = Update(
        external_id=_external_id(obj["external_id"], f"{where}.external_id"),
        available=_bool(obj["available"], f"{where}.available"),
        quantity=_quantity(obj["quantity"], f"{where}.quantity"),
        expected=expected,
        unlimited=_bool(obj.get("unlimited", False), f"{where}.unlimited"),
    )
    if update.unlimited and (not update.available or update.quantity is not None):
        raise BadRequest(f"{where}.unlimited", "an unlimited item is available and has no quantity")
    return update


def parse_updates(body: Any, key: str, *, limit: int | None, allow_expected: bool) -> list[Update]:
    obj = _object(body, "body")
    raw = obj.get(key)
    if not isinstance(raw, list):
        raise BadRequest(key, "must be a list")
    if limit is not None and len(raw) > limit:
        raise BadRequest(key, f"{len(raw)} updates exceed the batch limit of {limit}", status=413)
    return [parse_update(u, f"{key}[{i}]", allow_expected=allow_expected) for i, u in enumerate(raw)]


def parse_faults(body: Any, faults: Faults) -> None:
    """Applies a /control/faults body: each given key replaces that kind of fault."""
    obj = _object(body, "body")
    if "fail_items" in obj:
        items = _object(obj["fail_items"], "fail_items")
        for item_id, kind in items.items():
            if kind not in ("permanent", "temporary"):
                raise BadRequest(f"fail_items.{item_id}", "must be 'permanent' or 'temporary'")
        faults.fail_items = dict(items)
    if "next_statuses" in obj:
        statuses = obj["next_statuses"]
        if not isinstance(statuses, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 200 <= s <= 599 for s in statuses
        ):
            raise BadRequest("next_statuses", "must be a list of HTTP statuses (200-599)")
        faults.next_statuses = list(statuses)
    for name in ("malformed_next", "hang_next", "reset_next", "latency_ms"):
        if name in obj:
            value = obj[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadRequest(name, "must be a whole number >= 0")
            setattr(faults, name, value)


def encode_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest("cursor", "is not a cursor this store issued") from None
    if not isinstance(after, str):
        raise BadRequest("cursor", "is not a cursor this store issued")
    return after


# ---------------------------------------------------------------- the store's item state


class SandboxState:
    """Items keyed by external id, the API write log and the injected item failures."""

    def __init__(self, faults: Faults) -> None:
        self.items: dict[str, SandboxItem] = {}
        self.write_log: list[WriteRecord] = []
        self._faults = faults
        self._batch_seq = 0

    def lookup(self, ids: Sequence[str]) -> list[SandboxItem]:
        return [self.items[i] for i in dict.fromkeys(ids) if i in self.items]

    def page(self, limit: int, cursor: str | None) -> tuple[list[SandboxItem], str | None]:
        keys = sorted(self.items)
        start = bisect.bisect_right(keys, decode_cursor(cursor)) if cursor else 0
        chosen = keys[start : start + limit]
        more = start + limit < len(keys)
        return [self.items[k] for k in chosen], (encode_cursor(chosen[-1]) if more and chosen else None)

    def upsert(self, updates: Sequence[Update]) -> None:
        stamp = now_iso()
        for u in updates:
            self.items[u.external_id] = SandboxItem(
                u.external_id, u.available, u.quantity, stamp, u.unlimited
            )

    def edit(
        self, external_id: str, available: bool, quantity: int | None, unlimited: bool = False
    ) -> SandboxItem:
        """A merchant's manual edit (no write log). KeyError for an unknown item."""
        item = replace(
            self.items[external_id],
            available=available,
            quantity=quantity,
            unlimited=unlimited,
            updated_at=now_iso(),
        )
        self.items[external_id] = item
        return item

    def write_batch(self, updates: Sequence[Update]) -> tuple[list[dict[str, Any]], list[SandboxItem]]:
        """Per-item results in request order, and the items actually written."""
        self._batch_seq += 1
        results: list[dict[str, Any]] = []
        written: list[SandboxItem] = []
        for u in updates:
            refusal = self._refusal(u)
            if refusal is not None:
                results.append({"external_id": u.external_id, "status": "error", **refusal})
                continue
            item = SandboxItem(u.external_id, u.available, u.quantity, now_iso())
            self.items[u.external_id] = item
            self.write_log.append(
                WriteRecord(u.external_id, u.available, u.quantity, time.time(), self._batch_seq)
            )
            written.append(item)
            results.append({"external_id": u.external_id, "status": "ok", "item": item.to_json()})
        return results, written

    def _refusal(self, u: Update) -> dict[str, Any] | None:
        current = self.items.get(u.external_id)
        if current is None:
            return _error("not_found", "no item with this external_id", retryable=False)
        kind = self._faults.fail_items.get(u.external_id)
        if kind is not None:
            return _error("injected", f"injected {kind} failure", retryable=kind == "temporary")
        if u.quantity is not None and u.quantity < 0:
            return _error("invalid", "quantity must be >= 0", retryable=False)
        if u.expected is not None and u.expected != (current.available, current.quantity):
            return _error("conflict", "item changed since it was read (expected differs)", retryable=False)
        return None

    # ------------------------------------------------------------ persistence

    def snapshot(self) -> dict[str, Any]:
        return {"items": {k: v.to_json() for k, v in sorted(self.items.items())}}

    def load(self, path: Path) -> None:
        """Loads a state file written by save_state(); a missing file means an empty store."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        items = _object(_object(raw, "state file").get("items"), "state file items")
        for key, value in items.items():
            obj = _object(value, f"state file items.{key}")
            self.items[key] = SandboxItem(
                external_id=key,
                available=_bool(obj.get("available"), f"state file items.{key}.available"),
                quantity=_quantity(obj.get("quantity"), f"state file items.{key}.quantity"),
                updated_at=str(obj.get("updated_at") or now_iso()),
                unlimited=_bool(obj.get("unlimited", False), f"state file items.{key}.unlimited"),
            )


def save_state(path: Path, snapshot: Mapping[str, Any]) -> None:
    """Atomic replace so a crash mid-write never leaves half a state file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(snapshot, handle, indent=1)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _error(code: str, message: str, *, retryable: bool) -> dict[str, Any]:
    return {"code": code, "message": message, "retryable": retryable}
