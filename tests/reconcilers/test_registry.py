"""The platform registry and factory, with a tiny fake reconciler registered for the test only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import cast

import aiohttp
import pytest
from aioresponses import aioresponses

import reconcilers
from daemon.credentials import Secret
from daemon.model import ApplyResult, Change, Observed, StoreConfig, SyncedVariant
from reconcilers import ReconcilerFactory, known_platforms, reconciler_class
from reconcilers.capabilities import Capabilities, PacingModel, RateBudget, StockModel
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import CostPointsPacer, LeakyBucketPacer, PacerRegistry
from reconcilers.transport import RequestRecord, RetryPolicy, TemporaryError

BUDGET = RateBudget(requests_per_second=2, burst=4)


class FakeReconciler:
    """Keeps its context; a store setting `rps` refines the class budget (as the sandbox does)."""

    capabilities: Capabilities = Capabilities(
        platform="fake",
        stock_model=StockModel.STATUS,
        max_read_batch=10,
        max_write_batch=10,
        rate_budget=BUDGET,
        webhook_scheme=None,
    )

    def __init__(self, context: ReconcilerContext) -> None:
        self.context = context
        rps = context.store.settings.get("rps")
        if rps is not None:
            self.capabilities = replace(self.capabilities, rate_budget=RateBudget(float(rps), 1))

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        return []

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return ApplyResult()

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Observed]:
        return []


class FakeCostReconciler(FakeReconciler):
    capabilities: Capabilities = Capabilities(
        platform="fakecost",
        stock_model=StockModel.QUANTITY,
        max_read_batch=10,
        max_write_batch=10,
        rate_budget=RateBudget(1, 1, PacingModel.COST_POINTS, bucket_size=1000, restore_rate=50),
        webhook_scheme=None,
    )


def built_fake(factory: ReconcilerFactory, store_id: str, secret: Secret) -> FakeReconciler:
    return cast(FakeReconciler, factory.build(store(store_id), secret))


@pytest.fixture(autouse=True)
def fake_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        reconcilers,
        "_PLATFORMS",
        {
            "fake": f"{__name__}:FakeReconciler",
            "fakecost": f"{__name__}:FakeCostReconciler",
        },
    )


def store(store_id: str, platform: str = "fake", **settings: object) -> StoreConfig:
    return StoreConfig(id=store_id, platform=platform, region="eu", credential="cred", settings=settings)


def test_the_real_registry_lists_the_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    assert {"sandbox", "shopify", "woocommerce", "hubrise"} <= known_platforms()


def test_known_platforms_and_lazy_class_lookup() -> None:
    assert known_platforms() == frozenset({"fake", "fakecost"})
    assert reconciler_class("fake") is cast(object, FakeReconciler)


def test_unknown_platform_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"^unknown platform 'magento' \(known: fake, fakecost\)$"):
        reconciler_class("magento")


async def test_factory_builds_with_store_credential_and_transport(session: aiohttp.ClientSession) -> None:
    records: list[RequestRecord] = []
    policy = RetryPolicy(attempts=2, base_delay=0.001)
    factory = ReconcilerFactory(session, retry=policy, timeout_s=7, observer=records.append)
    secret = Secret("cred", "tok_value")
    built = factory.build(store("s1"), secret)
    assert isinstance(built, FakeReconciler)
    context = built.context
    assert context.store.id == "s1" and context.credential is secret
    transport = context.transport
    assert (transport.platform, transport.store_id) == ("fake", "s1")
    with aioresponses() as mocked:
        mocked.get("https://fake.test/x", status=503, repeat=True)
        with pytest.raises(TemporaryError, match="after 2 attempts"):  # the factory's retry policy
            await transport.request("GET", "https://fake.test/x")
    assert [(r.store_id, r.attempt) for r in records] == [("s1", 0), ("s1", 1)]  # the factory's observer
    assert isinstance(transport.pacer, LeakyBucketPacer)


async def test_factory_keeps_one_pacer_per_store_across_builds(session: aiohttp.ClientSession) -> None:
    pacers = PacerRegistry()
    factory = ReconcilerFactory(session, pacers=pacers)
    secret = Secret("cred", "x")
    first = built_fake(factory, "s1", secret).context.transport.pacer
    again = built_fake(factory, "s1", secret).context.transport.pacer
    other = built_fake(factory, "s2", secret).context.transport.pacer
    assert first is again  # the budget persists between passes
    assert other is not first
    assert pacers.get("s1", BUDGET) is first  # the factory's pacer is the registry's


async def test_factory_paces_by_the_instance_budget(session: aiohttp.ClientSession) -> None:
    pacers = PacerRegistry()
    factory = ReconcilerFactory(session, pacers=pacers)
    built = cast(FakeReconciler, factory.build(store("s1", rps=9), Secret("cred", "x")))
    assert built.capabilities.rate_budget == RateBudget(9.0, 1)
    assert built.context.transport.pacer is pacers.get("s1", RateBudget(9.0, 1))


async def test_factory_builds_a_cost_points_pacer_for_such_platforms(session: aiohttp.ClientSession) -> None:
    built = cast(
        FakeReconciler, ReconcilerFactory(session).build(store("s3", "fakecost"), Secret("cred", "x"))
    )
    assert isinstance(built.context.transport.pacer, CostPointsPacer)


async def test_factory_refuses_an_unknown_platform(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="unknown platform 'nope'"):
        ReconcilerFactory(session).build(store("s4", "nope"), Secret("cred", "x"))
