"""Every GraphQL request the Shopify reconciler sends, validated against the official Admin API schema.

The spec kept in ../shared is the 2025-01 introspection; we pin API 2026-07 (see reconcilers/shopify.py).
The differences that matter to us, from shopify.dev (InventoryQuantityInput, implementing-idempotency,
the 2026-04 changelog), are added as a schema extension and asserted, nothing else is relaxed:
- `@idempotent(key: String!)` on the mutation field: new in 2026-01, mandatory for
  inventorySetQuantities from 2026-04 (2025-01 does not know the directive);
- `InventoryQuantityInput.changeFromQuantity: Int`: new in 2026-01, mandatory from 2026-04, where
  `compareQuantity` and `InventorySetQuantitiesInput.ignoreCompareQuantity` were removed (so we must
  never send those two, which 2025-01 still has).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from graphql import (
    GraphQLSchema,
    OperationDefinitionNode,
    build_client_schema,
    extend_schema,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from daemon.credentials import Secret
from daemon.model import Availability, Change, StoreConfig, SyncedVariant
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.shopify import API_VERSION, ShopifyReconciler
from reconcilers.shopify_queries import OBSERVE_VARIANTS, SET_AVAILABLE
from reconcilers.transport import RetryPolicy, Transport

ENDPOINT = f"https://acme.myshopify.com/admin/api/{API_VERSION}/graphql.json"
SINCE_2026_04 = """
directive @idempotent(key: String!) on FIELD
extend input InventoryQuantityInput { changeFromQuantity: Int }
"""


@pytest.fixture
def schema_2025_01(shared_dir: Path) -> GraphQLSchema:
    introspection = json.loads((shared_dir / "specs" / "shopify" / "admin_schema_2025-01.json").read_text())
    # assume_valid: the official introspection trips graphql-core's stricter deprecation rules
    return build_client_schema(introspection["data"], assume_valid=True)


@pytest.fixture
def schema_pinned(schema_2025_01: GraphQLSchema) -> GraphQLSchema:
    return extend_schema(schema_2025_01, parse(SINCE_2026_04), assume_valid=True)


@pytest.fixture
async def sent_bodies() -> AsyncIterator[list[dict[str, Any]]]:
    """The JSON bodies of one observe and one apply, as the reconciler really builds them."""
    async with aiohttp.ClientSession() as session:
        store = StoreConfig("s1", "shopify", "eu", "c", settings={"shop_domain": "acme", "location_id": "77"})
        transport = Transport(
            session,
            platform="shopify",
            store_id="s1",
            pacer=LeakyBucketPacer(1000, 1000),
            retry=RetryPolicy(),
        )
        credential = Secret("c", json.dumps({"access_token": "t", "client_secret": "s"}))
        shop = ShopifyReconciler(ReconcilerContext(store, transport, credential))
        ref = {"inventory_item_id": "gid://shopify/InventoryItem/5"}
        with aioresponses() as mocked:
            mocked.post(ENDPOINT, payload={"data": {"nodes": []}})
            mocked.post(ENDPOINT, payload={"data": {"inventorySetQuantities": {"userErrors": []}}})
            await shop.observe([SyncedVariant("s1", "gid://shopify/ProductVariant/1", "v1")])
            await shop.apply(
                [
                    Change(
                        "gid://shopify/ProductVariant/1", Availability(True, 3), Availability(True, 1), ref
                    ),
                    Change("gid://shopify/ProductVariant/2", Availability(False), None, ref),
                ]
            )
            yield [call.kwargs["json"] for calls in mocked.requests.values() for call in calls]


def test_documents_are_valid_for_the_pinned_version(schema_pinned: GraphQLSchema) -> None:
    for document in (OBSERVE_VARIANTS, SET_AVAILABLE):
        assert validate(schema_pinned, parse(document)) == []


def test_only_the_documented_2026_additions_differ_from_2025_01(schema_2025_01: GraphQLSchema) -> None:
    assert validate(schema_2025_01, parse(OBSERVE_VARIANTS)) == []
    errors = [e.message for e in validate(schema_2025_01, parse(SET_AVAILABLE))]
    assert errors == ["Unknown directive '@idempotent'."]


def test_every_sent_request_validates_with_its_variables(
    schema_pinned: GraphQLSchema, sent_bodies: list[dict[str, Any]]
) -> None:
    assert len(sent_bodies) == 2
    for body in sent_bodies:
        document = parse(body["query"])
        assert validate(schema_pinned, document) == []
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        definitions = operation.variable_definitions or ()
        coerced = get_variable_values(schema_pinned, definitions, body["variables"])
        assert not isinstance(coerced, list), coerced  # a list of GraphQLErrors when invalid
        # the check can fail: an entry without its required quantity is refused
        if "input" in body["variables"]:
            broken = json.loads(json.dumps(body["variables"]))
            del broken["input"]["quantities"][0]["quantity"]
            assert isinstance(get_variable_values(schema_pinned, definitions, broken), list)


def test_mutation_sends_changefrom_on_every_entry_and_nothing_removed(
    sent_bodies: list[dict[str, Any]],
) -> None:
    [mutation] = [b for b in sent_bodies if "inventorySetQuantities" in b["query"]]
    payload = mutation["variables"]["input"]
    assert "ignoreCompareQuantity" not in payload
    for entry in payload["quantities"]:
        assert "changeFromQuantity" in entry and "compareQuantity" not in entry
    assert [e["changeFromQuantity"] for e in payload["quantities"]] == [1, None]
