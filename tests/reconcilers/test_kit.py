"""The kit every platform module is built on: settings, credentials, bounded webhook JSON, the batch runner."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import ApplyResult, Availability, Change, FailureKind, Observed, StoreConfig
from reconcilers.batching import cannot_enforce, run_batch
from reconcilers.capabilities import Capabilities, RateBudget, Refinement, StockModel, WriteUnit
from reconcilers.credential_fields import credential_fields
from reconcilers.interface import ReconcilerContext
from reconcilers.observations import counted
from reconcilers.settings import StoreSettings, refined
from reconcilers.transport import AuthError, PermanentError, TemporaryError
from reconcilers.webhook_json import bounded_decimal, load_webhook_json, webhook_time

CAPS = Capabilities("kit", StockModel.BOTH, 10, 3, RateBudget(5.0), None)


def settings(**values: Any) -> StoreSettings:
    return StoreSettings(StoreConfig("s9", "kit", "r", "c", settings=values))


def test_settings_errors_name_the_store_and_key() -> None:
    with pytest.raises(ConfigError, match=r"stores\.s9\.settings\.batch_limit: must be a whole number > 0"):
        settings(batch_limit=2.5).positive("batch_limit", whole=True)
    with pytest.raises(
        ConfigError, match=r"stores\.s9\.settings\.rate_per_s: renamed: use 'requests_per_second'"
    ):
        settings(rate_per_s=3)
    with pytest.raises(ConfigError, match=r"settings\.base_url: must use https"):
        settings(base_url="http://shop.example.com").base_url(https=True)
    assert settings(base_url="http://127.0.0.1:8080/").base_url(https=True) == "http://127.0.0.1:8080"
    with pytest.raises(ConfigError, match=r"settings\.location_id: required: a location"):
        settings(location_id="gid://x/Location/12a").ident(
            "location_id", "a location", digits=True, prefix="gid://x/Location/"
        )
    assert settings(location_id=12).ident("location_id", "a location", digits=True) == "12"


def test_refinements_replace_only_what_the_platform_declares() -> None:
    caps = refined(CAPS, settings(batch_limit=2))
    assert caps.max_write_batch == 2 and CAPS.max_write_batch == 3
    with pytest.raises(ConfigError, match=r"settings\.requests_per_second: not a setting of platform kit"):
        refined(CAPS, settings(requests_per_second=9))
    rated = refined(
        Capabilities("kit", StockModel.BOTH, 10, 3, RateBudget(5.0), None, refinable=frozenset(Refinement)),
        settings(requests_per_second=9, page_size=4),
    )
    assert (rated.rate_budget.requests_per_second, rated.max_read_batch) == (9.0, 4)


def test_a_declared_write_unit_needs_its_key() -> None:
    with pytest.raises(ValueError, match="unit_key"):
        Capabilities("kit", StockModel.BOTH, 10, 3, RateBudget(5.0), None, write_unit=WriteUnit.LISTING)


def context(value: str) -> ReconcilerContext:
    store = StoreConfig("s9", "kit", "r", "cred")
    return ReconcilerContext(store, None, Secret("cred", value))  # type: ignore[arg-type]


def test_credential_fields_name_the_field_never_the_value() -> None:
    fields = credential_fields(context(json.dumps({"key": "k-123456", "hook": ""})), ["key"], ["hook"])
    assert fields == {"key": "k-123456", "hook": None}
    with pytest.raises(CredentialError, match="'secret' is missing") as caught:
        credential_fields(context(json.dumps({"key": "k-123456"})), ["key", "secret"])
    assert "k-123456" not in str(caught.value)
    with pytest.raises(CredentialError, match="not a JSON object"):
        credential_fields(context("plain-token-value"), ["key"])
    plain = credential_fields(context("plain-token-value\n"), ["token"], ["hook"], plain_allowed=True)
    assert plain == {"token": "plain-token-value", "hook": None}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "nested deeper"),
        (b"[" * 40 + b"]" * 40, "nested deeper"),
        (b'{"n": ' + b"9" * 50 + b"}", "longer than 40 digits"),
        (b'{"n": NaN}', "NaN is not a JSON number"),
        (b'{"s": "a\\u0000b"}', "NUL"),
        (b'{"s": "\\ud800"}', "surrogate"),
        (b'{"a\\u0000": 1}', "a key contains"),
        (b"not json", "not valid JSON"),
    ],
)
def test_webhook_json_is_bounded(body: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        load_webhook_json(body)


def test_numbers_and_times_are_bounded_before_any_arithmetic() -> None:
    assert bounded_decimal("2.500", "stock") == bounded_decimal(2.5, "stock")
    for hostile in ("1e999999999", "-1e999999999", "Infinity", "NaN", "1" * 60):
        with pytest.raises(InputError, match="stock"):
            bounded_decimal(hostile, "stock")
    assert webhook_time({"t": "2026-11-23T09:00:00Z"}, "t") is not None
    naive = webhook_time({"t": "2026-11-23T09:00:00"}, "t", naive_is_utc=True)
    assert naive is not None and naive.utcoffset() is not None
    with pytest.raises(InputError, match="needs a timezone"):
        webhook_time({"t": "2026-11-23T09:00:00"}, "t")
    assert counted("x", True, 2**31).problem is not None and counted("x", True, 2**31 - 1).problem is None


def change(external_id: str, ref: dict[str, Any] | None = None) -> Change:
    return Change(external_id, Availability(False, 0), platform_ref=ref)


async def test_the_batch_runner_maps_failures_alike_and_never_splits() -> None:
    sent: list[list[str]] = []

    def unit_by_prefix(external_id: str) -> str:
        return external_id[0]

    caps = Capabilities(
        "kit",
        StockModel.BOTH,
        10,
        4,
        RateBudget(5.0),
        None,
        write_unit=WriteUnit.PARENT_PRODUCT,
        unit_key=unit_by_prefix,
    )

    async def send(unit: Sequence[Change]) -> ApplyResult:
        sent.append([c.external_id for c in unit])
        if unit[0].external_id.startswith("a"):
            raise AuthError("HTTP 401: invalid token", 401)
        return ApplyResult(confirmed=tuple(Observed(c.external_id, False, 0) for c in unit))

    result = await run_batch(
        caps,
        [change("a1"), change("b1"), change("a2"), change("c1", cannot_enforce(None, "untracked"))],
        send,
    )
    assert sent == [["a1", "a2"]]  # one request per unit; after a refused credential nothing else is sent
    kinds = {f.external_id: f.kind for f in result.failed}
    assert kinds == {
        "c1": FailureKind.PROBLEM,
        "a1": FailureKind.AUTH,
        "a2": FailureKind.AUTH,
        "b1": FailureKind.AUTH,
    }
    with pytest.raises(ValueError, match="max_write_batch"):
        await run_batch(caps, [change(f"b{i}") for i in range(5)], send)
    for error, kind in (
        (PermanentError("HTTP 400", 400), FailureKind.PERMANENT),
        (TemporaryError("HTTP 503"), FailureKind.TEMPORARY),
    ):

        async def failing(unit: Sequence[Change], error: Exception = error) -> ApplyResult:
            raise error

        outcome = await run_batch(caps, [change("b1")], failing)
        assert [f.kind for f in outcome.failed] == [kind]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"topic": {"": {"\\u0000": null}}}', 'body.topic[""]'),  # found by the fault suite's hypothesis
        (b'{"a": {"b\\u0000": 1}}', "body.a"),
        (b'{"a": ["x", "\\ud800"]}', "body.a[1]"),
    ],
)
def test_a_refused_webhook_body_names_where_the_bad_text_sits(body: bytes, field: str) -> None:
    with pytest.raises(InputError) as refused:
        load_webhook_json(body)
    assert refused.value.field == field
