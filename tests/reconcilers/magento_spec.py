"""Adobe's Magento admin REST schema (Swagger 2.0) as the OpenAPI 3 document tests/spec_validation.py checks.

Only what stocksync's traffic needs is converted, and only for the paths it uses (fast: a few dozen of
the file's thousands of definitions): definitions → components/schemas with every $ref rewritten, a
`body` parameter → requestBody, other parameters → a `schema`-wrapped parameter, responses →
`content: application/json`. The file declares an `api_key` header that no Magento reads (tokens
travel as `Authorization: Bearer`); no operation uses it, and it is left out.

Where the schema contradicts Magento's documented answers, SPEC_EXCEPTIONS corrects it, one entry per
fact, each saying why; nothing else is changed.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.spec_validation import Spec, spec_document

SPEC_FILE = "magento/admin-schema-2.4.9.yaml"
PATHS = (
    "/V1/inventory/source-items",
    "/V1/inventory/stock-source-links",
    "/V1/products",
    "/V1/stockItems/{productSku}",
)
_SWAGGER_REF, _OPENAPI_REF = "#/definitions/", "#/components/schemas/"
_PARAMETER_KEYS = ("type", "format", "items", "enum", "default", "minimum", "maximum")


def _refs(node: Any) -> Any:
    """A copy with every Swagger definition reference pointing at components/schemas."""
    if isinstance(node, dict):
        return {
            k: (v.replace(_SWAGGER_REF, _OPENAPI_REF) if k == "$ref" and isinstance(v, str) else _refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_refs(v) for v in node]
    return node


def _used(node: Any, definitions: dict[str, Any], seen: set[str]) -> None:
    """The definitions `node` reaches, transitively."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str) and ref.startswith(_SWAGGER_REF):
                name = ref.removeprefix(_SWAGGER_REF)
                if name not in seen:
                    seen.add(name)
                    stack.append(definitions[name])
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def _operation(swagger: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": swagger.get("operationId", ""), "responses": {}}
    parameters = []
    for parameter in swagger.get("parameters", []):
        if parameter["in"] == "body":
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _refs(parameter["schema"])}},
            }
        else:
            schema = {k: _refs(parameter[k]) for k in _PARAMETER_KEYS if k in parameter}
            parameters.append(
                {
                    "name": parameter["name"],
                    "in": parameter["in"],
                    "required": bool(parameter.get("required", False)),
                    "schema": schema,
                }
            )
    if parameters:
        operation["parameters"] = parameters
    for status, response in swagger.get("responses", {}).items():
        converted: dict[str, Any] = {"description": response.get("description") or str(status)}
        if "schema" in response:
            converted["content"] = {"application/json": {"schema": _refs(response["schema"])}}
        operation["responses"][str(status)] = converted
    return operation


def converted(swagger: dict[str, Any], paths: tuple[str, ...] = PATHS) -> dict[str, Any]:
    """The OpenAPI 3.0 form of `paths` of a Swagger 2.0 document (with the definitions they reach)."""
    definitions = swagger["definitions"]
    chosen = {path: swagger["paths"][path] for path in paths}
    reached: set[str] = set()
    _used(chosen, definitions, reached)
    return {
        "openapi": "3.0.3",
        "info": {"title": swagger["info"]["title"], "version": swagger["info"]["version"]},
        "paths": {
            path: {method: _operation(op) for method, op in item.items() if method in ("get", "post", "put")}
            for path, item in chosen.items()
        },
        "components": {"schemas": {name: _refs(definitions[name]) for name in sorted(reached)}},
    }


def _void_success(document: dict[str, Any]) -> None:
    """POST /V1/inventory/source-items returns void (SourceItemsSaveInterface::execute); the schema
    lists no success answer at all, so a 200 would be checked against `default` (the error shape).
    Magento answers 200 with an empty JSON list for a void method."""
    operation = document["paths"]["/V1/inventory/source-items"]["post"]
    operation["responses"]["200"] = {
        "description": "saved (void)",
        "content": {"application/json": {"schema": {"type": "array", "maxItems": 0}}},
    }


def _named_parameters(document: dict[str, Any]) -> None:
    """Error `parameters` are a list of values for positional placeholders (%1) but an object of
    names for named ones (%fieldName, %resources: the 401 of a missing ACL resource, "is required",
    the input limit's "Maximum items of type"); the schema allows only the list."""
    schemas = document["components"]["schemas"]
    listed = schemas["error-parameters"]
    schemas["error-parameters"] = {"oneOf": [listed, {"type": "object"}]}
    item = schemas["error-parameters-item"]
    schemas["error-parameters-item"] = {"oneOf": [item, {"type": "string"}, {"type": "number"}]}


def _no_low_stock_date(document: dict[str, Any]) -> None:
    """A stock item that never went below its notify quantity has `low_stock_date: null`; the schema
    requires a string."""
    stock_item = document["components"]["schemas"]["catalog-inventory-data-stock-item-interface"]
    stock_item["properties"]["low_stock_date"] = {"type": "string", "nullable": True}


SPEC_EXCEPTIONS = (_void_success, _named_parameters, _no_low_stock_date)


def magento_document() -> dict[str, Any]:
    document = converted(spec_document(SPEC_FILE))
    for correct in SPEC_EXCEPTIONS:
        correct(document)
    return document


_SPEC: list[Spec] = []


def magento_spec() -> Spec:
    """The checked spec, converted once per process; skips the test without ../shared."""
    if not _SPEC:
        _SPEC.append(Spec.from_document(SPEC_FILE, copy.deepcopy(magento_document())))
    return _SPEC[0]
