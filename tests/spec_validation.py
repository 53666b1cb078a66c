"""Requests and responses checked against a vendor's official OpenAPI file in ../shared/specs.

The vendors' files are not all valid by the letter of OpenAPI (Square's `info.externalDocs`,
Webflow's array `example`s), so the file itself is not validated: only traffic is checked against it.
Servers are replaced by one neutral base so a path is checked as written in the spec's `paths`,
whatever host the local fake listens on.

Usage (tests skip with the reason when ../shared is absent):

    spec = load_spec("bigcommerce/inventory.v3.yml")
    spec.check_request("PUT", "/inventory/adjustments/absolute", body=payload)
    spec.check_response("PUT", "/inventory/adjustments/absolute", 200, answer)
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"
_BASE = "http://spec.invalid"


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return dict(json.loads(text))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return dict(yaml.load(text, Loader=loader))


@cache
def _document(relative: str) -> dict[str, Any]:
    return _read(SPECS / relative)


def spec_document(relative: str) -> dict[str, Any]:
    """The parsed spec file (a deep copy: callers may convert or trim it); skips without ../shared."""
    path = SPECS / relative
    if not path.is_file():
        pytest.skip(
            f"../shared/specs/{relative} is not beside this checkout (only developers and CI have it)"
        )
    return copy.deepcopy(_document(relative))


@dataclass(frozen=True)
class Spec:
    """One OpenAPI 3 document; check_* raise AssertionError listing what the spec refuses."""

    name: str
    api: Any

    @classmethod
    def from_document(cls, name: str, document: dict[str, Any]) -> Spec:
        from openapi_core import Config, OpenAPI

        document = dict(document)
        document["servers"] = [{"url": _BASE}]
        for item in document.get("paths", {}).values():
            if isinstance(item, dict):
                item.pop("servers", None)
                for operation in item.values():
                    if isinstance(operation, dict):
                        operation.pop("servers", None)
        return cls(name, OpenAPI.from_dict(document, config=Config(spec_validator_cls=None)))

    def _request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None,
        headers: dict[str, str] | None,
        body: Any,
        content_type: str,
    ) -> Any:
        from openapi_core.testing import MockRequest

        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        return MockRequest(
            _BASE, method, path, args=query, headers=headers, data=data, content_type=content_type
        )

    def check_request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> None:
        request = self._request(method, path, query, headers, body, content_type)
        try:
            self.api.validate_request(request)
        except Exception as error:  # openapi-core raises several families; all mean "refused"
            raise AssertionError(
                f"{self.name}: {method} {path} refused by the spec: {_explain(error)}"
            ) from error

    def check_response(
        self,
        method: str,
        path: str,
        status: int,
        body: Any,
        *,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        from openapi_core.testing import MockResponse

        request = self._request(method, path, query, None, None, "application/json")
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = MockResponse(data, status_code=status, headers=headers, content_type=content_type)
        try:
            self.api.validate_response(request, response)
        except Exception as error:
            raise AssertionError(
                f"{self.name}: answer {status} to {method} {path} refused by the spec: {_explain(error)}"
            ) from error


def _explain(error: Exception) -> str:
    details = [str(error)]
    cause: BaseException | None = error.__cause__
    while cause is not None:
        details.append(str(cause))
        for inner in getattr(cause, "schema_errors", ()) or ():
            details.append(f"{list(getattr(inner, 'path', []))}: {getattr(inner, 'message', inner)}")
        cause = cause.__cause__
    return " | ".join(details)


@cache
def _loaded(relative: str) -> Spec:
    return Spec.from_document(relative, copy.deepcopy(_document(relative)))


def load_spec(relative: str) -> Spec:
    """The spec at ../shared/specs/<relative> (OpenAPI 3.x), parsed once per process."""
    if not (SPECS / relative).is_file():
        pytest.skip(
            f"../shared/specs/{relative} is not beside this checkout (only developers and CI have it)"
        )
    return _loaded(relative)
