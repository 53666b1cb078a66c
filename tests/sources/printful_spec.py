"""The Printful API v2 OpenAPI description, when a developer has it: `$STOCKSYNC_PRINTFUL_SPEC`, else
`<shared>/specs/printful/openapi.json`. Its licence is unstated, so it is never copied into this
repository; tests that need it skip with the reason when it is absent.

The fake's fixture hands everything it saw to `check_traffic` when the description is there (every
request the reader sent, every answer the fake gave); `spec_path()` skips a test that needs it.
`check_traffic` validates what the fake saw (every request the reader sent, every answer the fake gave)
against the spec; `check_event` validates a webhook body against the spec's `x-webhooks` schema.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.sources.fakes.printful_fake import Seen
from tests.spec_validation import SPECS, Spec

_SHARED = SPECS / "printful" / "openapi.json"


def spec_file() -> Path | None:
    """The description's path when a developer has it, else None."""
    configured = os.environ.get("STOCKSYNC_PRINTFUL_SPEC")
    path = Path(configured) if configured else _SHARED
    return path if path.is_file() else None


def spec_path() -> Path:
    """The description's path; skips the test with the reason when it is absent."""
    path = spec_file()
    if path is None:
        pytest.skip(
            f"Printful OpenAPI not found at {os.environ.get('STOCKSYNC_PRINTFUL_SPEC') or _SHARED} (set "
            "STOCKSYNC_PRINTFUL_SPEC to a copy of the v2 openapi.json; it is not shipped with stocksync)"
        )
    return path


@cache
def _document(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


@cache
def _spec(path: Path) -> Spec:
    document = json.loads(json.dumps(_document(path)))
    # the description requires OAuth on every call; openapi-core has no OAuth provider, and the bearer
    # token is checked by the tests themselves, so security requirements are dropped before checking
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    document.pop("security", None)
    return Spec.from_document(str(path), document)


def check_traffic(seen: list[Seen], path: Path) -> int:
    """Every request and answer the fake recorded, checked; the number of exchanges checked."""
    spec = _spec(path)
    for exchange in seen:
        headers = {
            k: v for k, v in exchange.headers.items() if k.lower() in ("x-pf-store-id", "x-pf-language")
        }
        spec.check_request(exchange.method, exchange.path, query=exchange.query, headers=headers)
        if exchange.status != 429:  # the description lists no 429 answer
            spec.check_response(
                exchange.method, exchange.path, exchange.status, exchange.body, query=exchange.query
            )
    return len(seen)


def check_event(event_type: str, body: bytes) -> None:
    """A webhook body against `x-webhooks.<type>.post.requestBody` (refs resolved)."""
    from openapi_schema_validator import OAS30Validator

    document = _document(spec_path())
    operation = document["x-webhooks"][event_type]["post"]
    schema = _resolved(document, operation["requestBody"])["content"]["application/json"]["schema"]
    errors = [f"{list(e.path)}: {e.message}" for e in OAS30Validator(schema).iter_errors(json.loads(body))]
    assert not errors, f"{event_type} event refused by the spec: {errors}"


def _resolved(document: dict[str, Any], node: Any, depth: int = 0) -> Any:
    assert depth < 30, "reference cycle"
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolved(document, target, depth + 1)
        return {k: _resolved(document, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolved(document, v, depth + 1) for v in node]
    return node
