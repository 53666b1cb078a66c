"""Bounded reading of what a store sends us: webhook JSON, numbers and counts.

A webhook body is untrusted input; every limit here turns a hostile or broken value into an
InputError naming the field instead of a crash, a
stalled event loop or a value PostgreSQL refuses:
- nesting depth and body size are capped (json would recurse or hold the loop for long);
- integers longer than 40 digits and decimals with a large exponent are refused before any
  arithmetic (int("1" * 10**6) or Decimal("1e999999999") turned into an int block the loop);
- every string (keys included) must be storable as PostgreSQL text (daemon.text).
Counts a store shows are bounded in reconcilers.observations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from daemon.errors import InputError
from daemon.text import NOT_STORABLE, storable_text
from reconcilers.signatures import header_value

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32
MAX_DIGITS = 40
MAX_EXPONENT = 30  # |adjusted exponent| of a decimal we do arithmetic with


def load_webhook_json(body: bytes, where: str = "webhook") -> Any:
    """The parsed body; InputError(where, field, reason) when it breaks a limit or is not JSON."""
    if len(body) > MAX_BODY_BYTES:
        raise InputError(where, "body", f"larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body, parse_int=_bounded_int, parse_constant=_no_constant)
    except RecursionError:
        raise InputError(where, "body", f"nested deeper than {MAX_DEPTH} levels") from None
    except _TooBigError as exc:
        raise InputError(where, "body", str(exc)) from None
    except ValueError as exc:
        raise InputError(where, "body", f"not valid JSON ({exc.__class__.__name__})") from None
    _check_tree(document, where)
    return document


def bounded_decimal(value: Any, field: str, where: str = "webhook") -> Decimal:
    """A finite decimal from a JSON number or numeric string, refused before any arithmetic when it
    has too many digits or too large an exponent."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(where, field, "not a number")
    text = str(value).strip()
    if len(text) > MAX_DIGITS + 8:
        raise InputError(where, field, f"longer than {MAX_DIGITS} digits")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InputError(where, field, "not a number") from None
    if not number.is_finite() or abs(number.adjusted()) > MAX_EXPONENT:
        raise InputError(where, field, f"out of range (at most 1e{MAX_EXPONENT})")
    return number


def webhook_time(
    obj: Any, name: str, field: str | None = None, *, naive_is_utc: bool = False
) -> datetime | None:
    """The platform's own time of a change (`obj[name]`, ISO 8601), timezone-aware; None when absent.
    `naive_is_utc`: the platform writes UTC without an offset (WooCommerce *_gmt fields)."""
    stamp = obj.get(name) if isinstance(obj, Mapping) else None
    if stamp is None:
        return None
    try:
        when = datetime.fromisoformat(stamp) if isinstance(stamp, str) and len(stamp) <= 40 else None
    except ValueError:
        when = None
    if when is None:
        raise InputError("webhook", field or name, "not an ISO 8601 time")
    if when.tzinfo is None:
        if not naive_is_utc:
            raise InputError("webhook", field or name, "needs a timezone")
        when = when.replace(tzinfo=UTC)
    return when


def webhook_header(headers: Mapping[str, str], name: str) -> str | None:
    """A delivery id or similar header, bounded (it is stored); None when absent or empty."""
    value = (header_value(headers, name) or "").strip()[:100]
    return value or None


class _TooBigError(ValueError):
    """A number too long to parse without risk."""


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _TooBigError(f"an integer longer than {MAX_DIGITS} digits")
    return int(text)


def _no_constant(name: str) -> Any:
    raise _TooBigError(f"{name} is not a JSON number")


def _check_tree(document: Any, where: str) -> None:
    """Depth and text rules over the parsed tree, iteratively (no recursion on hostile input)."""
    stack: list[tuple[Any, int, str]] = [(document, 1, "body")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list) and depth > MAX_DEPTH:
            raise InputError(where, path, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for key, value in node.items():
                if not storable_text(key):
                    raise InputError(where, path, f"a key {NOT_STORABLE}")
                stack.append((value, depth + 1, _child(path, key)))
        elif isinstance(node, list):
            stack.extend((value, depth + 1, f"{path}[{i}]") for i, value in enumerate(node))
        elif isinstance(node, str) and not storable_text(node):
            raise InputError(where, path, NOT_STORABLE)


def _child(path: str, key: str) -> str:
    """Where a member sits, for the refusal: `body.topic`, or `body["odd key"]` (never empty)."""
    short = key[:40]
    return f"{path}.{short}" if short.isidentifier() else f"{path}[{json.dumps(short)}]"
