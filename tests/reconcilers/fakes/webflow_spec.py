"""Webflow's OpenAPI file (../shared/specs/webflow/v2.yml), trimmed to the inventory operations, for the
unit tests and the fake. None when the file is not beside this checkout (a user's clone): callers then
check nothing, and the fake still works.

The inventory operations declare `OAuth2` security with a scope; openapi-core cannot check OAuth2 (it
warns "Unsupported scheme type"), so they are checked against the file's other scheme for the same header,
`ApiKey` (HTTP Bearer); scopes are the fake's job. This is the checker's limit, not the spec's.

One documented exception to the spec itself, nowhere else: every error schema types `externalReference` as a string, while
the error-handling page, the rate-limits page and the spec's own examples send `"externalReference": null`;
null is allowed there.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from tests.spec_validation import SPECS, Spec, spec_document

FILE = "webflow/v2.yml"
INVENTORY = "/collections/{sku_collection_id}/items/{sku_id}/inventory"


@cache
def webflow_spec() -> Spec | None:
    if not (SPECS / FILE).is_file():
        return None
    document = spec_document(FILE)
    document["paths"] = {INVENTORY: document["paths"][INVENTORY]}
    document.pop("webhooks", None)
    document["security"] = [{"ApiKey": []}]
    for operation in document["paths"][INVENTORY].values():
        operation["security"] = [{"ApiKey": []}]
        for answer in operation.get("responses", {}).values():
            for content in answer.get("content", {}).values():
                _allow_null_reference(content.get("schema"))
    return Spec.from_document(FILE, document)


def _allow_null_reference(schema: Any) -> None:
    reference = (schema or {}).get("properties", {}).get("externalReference")
    if isinstance(reference, dict) and reference.get("type") == "string":
        reference["type"] = ["string", "null"]
