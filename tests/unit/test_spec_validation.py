"""The spec checker refuses what a vendor's OpenAPI file refuses (else spec validation proves nothing)."""

from __future__ import annotations

import pytest

from tests.spec_validation import load_spec

ADJUST = "/inventory/adjustments/absolute"


def test_a_request_the_spec_allows_passes() -> None:
    spec = load_spec("bigcommerce/inventory.v3.yml")
    item = {"location_id": 1, "variant_id": 3, "quantity": 5}
    spec.check_request("PUT", ADJUST, headers={"X-Auth-Token": "t"}, body={"reason": "sync", "items": [item]})


def test_a_request_the_spec_refuses_fails_naming_the_operation() -> None:
    spec = load_spec("bigcommerce/inventory.v3.yml")
    with pytest.raises(AssertionError, match="PUT /inventory/adjustments/absolute refused"):
        spec.check_request("PUT", ADJUST, headers={"X-Auth-Token": "t"}, body={"items": [{"quantity": "5"}]})


def test_an_answer_the_spec_refuses_fails() -> None:
    spec = load_spec("square/api.json")
    with pytest.raises(AssertionError, match="answer 200"):
        spec.check_response("POST", "/v2/inventory/counts/batch-retrieve", 200, {"counts": "not a list"})
