"""Square's official OpenAPI file (../shared/specs/square/api.json) as our checks use it.

Two narrow exceptions, both where the file is silent rather than wrong:
- it lists only the 200 answer of each operation, while the prose docs (Handling errors) say every
  refusal (400, 401, 429, 5xx) answers `{"errors": [Error]}`; each of our operations' response
  schemas already holds `errors`, so that schema is also the operation's `default` answer;
- its OAuth2 security cannot be checked by openapi-core (which warns): it is dropped here, and the
  fake checks `Authorization: Bearer` itself.
Only the operations stocksync calls are kept. Webhook bodies are described only as a component
(`InventoryCountUpdatedEvent`): `square_event_spec()` wraps it in one synthetic operation answering it,
so the same checker validates the events the fake sends and the tests make. Skips (via tests.spec_validation) without ../shared.
"""

from __future__ import annotations

from tests.spec_validation import SPECS, Spec, spec_document

PATHS = (
    "/v2/catalog/batch-retrieve",
    "/v2/inventory/counts/batch-retrieve",
    "/v2/inventory/changes/batch-create",
)
_BUILT: list[Spec] = []
FILE = "square/api.json"


def present() -> bool:
    """Whether Square's file is beside this checkout (wire tests then also check their traffic)."""
    return (SPECS / FILE).is_file()


def square_spec() -> Spec:
    """The converted spec, built once per process."""
    if not _BUILT:
        document = spec_document("square/api.json")  # skips the calling test without ../shared
        document["paths"] = {path: document["paths"][path] for path in PATHS}
        for path in PATHS:
            operation = document["paths"][path]["post"]
            operation.pop("security", None)
            operation["responses"]["default"] = operation["responses"]["200"]
        _BUILT.append(Spec.from_document("square/api.json (errors[] as the default answer)", document))
    return _BUILT[0]


EVENT_PATH = "/synthetic/webhook-events/inventory.count.updated"
_EVENTS: list[Spec] = []


def square_event_spec() -> Spec:
    """check_response("GET", EVENT_PATH, 200, event) validates an inventory.count.updated body."""
    if not _EVENTS:
        document = spec_document("square/api.json")
        schema = {"$ref": "#/components/schemas/InventoryCountUpdatedEvent"}
        answer = {"description": "the event body", "content": {"application/json": {"schema": schema}}}
        document["paths"] = {EVENT_PATH: {"get": {"responses": {"200": answer}}}}
        _EVENTS.append(Spec.from_document("square/api.json InventoryCountUpdatedEvent", document))
    return _EVENTS[0]
