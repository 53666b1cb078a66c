"""HubRise inventory callback events as what the daemon applies (pure: no I/O, no signature check).

An event (POST body = `GET /callback/events/:id`) carries `id`, `resource_type`, `event_type`,
`created_at` and the ids of the inventory (`catalog_id`, `location_id`):
- `inventory.patch` lists the changed entries in `state_change` (`stock: null` = entry removed =
  unlimited): rows applied like upstream events, newest wins by `created_at`;
- `inventory.update` (the whole inventory replaced) carries no state: every covered ref may have
  changed, including entries removed without a trace, so it asks for a pull of all of them;
- an event of another catalog or location (an account-level connection hears all of them) is
  acknowledged and applies nothing.
A bad body is refused whole (InputError naming the field); nothing of it is applied.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from daemon.errors import InputError
from reconcilers.webhook_json import load_webhook_json, webhook_time
from sources.hubrise_inventory import BadEntryError, Coverage, Key, read_entry, stock_row
from sources.interface import SourceCallback, SourceStock

WHERE = "callback"
MAX_CHANGES = 10_000  # entries one patch event may list; a larger one is refused, not half applied


def parse_event(body: bytes, catalog_id: str, location_id: str, covered: Coverage) -> SourceCallback:
    event = load_webhook_json(body, WHERE)
    if not isinstance(event, dict):
        raise InputError(WHERE, "body", "must be a JSON object (a HubRise event)")
    if event.get("resource_type") != "inventory":
        raise InputError(
            WHERE, "resource_type", f"must be 'inventory' (got {_shown(event.get('resource_type'))})"
        )
    event_type = event.get("event_type")
    if event_type not in ("patch", "update"):
        raise InputError(WHERE, "event_type", f"must be 'patch' or 'update' (got {_shown(event_type)})")
    delivery = _event_id(event)
    try:
        occurred = webhook_time(event, "created_at")
    except InputError as exc:  # the kit names its place "webhook"; ours is a source callback
        raise InputError(WHERE, exc.field, exc.reason) from None
    if occurred is None:
        raise InputError(WHERE, "created_at", "missing (the time the change happened)")
    for field, ours in (("catalog_id", catalog_id), ("location_id", location_id)):
        value = event.get(field)
        if value is not None and not isinstance(value, str):
            raise InputError(WHERE, field, "must be a string")
        if value is not None and value != ours:
            return SourceCallback(delivery_id=delivery)  # another inventory: nothing of ours changed
    if event_type == "update":
        return SourceCallback(
            occurred_at=occurred, pull_ids=frozenset(covered.upstream_ids.values()), delivery_id=delivery
        )
    return SourceCallback(rows=_changes(event, covered), occurred_at=occurred, delivery_id=delivery)


def _changes(event: dict[str, Any], covered: Coverage) -> list[SourceStock]:
    changes = event.get("state_change")
    if not isinstance(changes, list):
        raise InputError(WHERE, "state_change", "missing or not a list (a patch event lists its changes)")
    if len(changes) > MAX_CHANGES:
        raise InputError(WHERE, "state_change", f"more than {MAX_CHANGES} entries")
    seen: dict[Key, Decimal | None] = {}
    for index, raw in enumerate(changes):
        try:
            key, stock = read_entry(raw)
        except BadEntryError as exc:
            raise InputError(WHERE, f"state_change[{index}].{exc.field}", exc.reason) from None
        seen[key] = stock  # a ref changed twice in one event: its last value is its state
    return [
        stock_row(covered.variants[key], covered.facility_id, stock)
        for key, stock in seen.items()
        if key in covered.variants
    ]


def _event_id(event: dict[str, Any]) -> str | None:
    value = event.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 100:
        raise InputError(WHERE, "id", "must be a non-empty string of at most 100 characters")
    return value


def _shown(value: Any) -> str:
    return repr(value)[:40]
