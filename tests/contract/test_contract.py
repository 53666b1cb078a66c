"""The contract every registered platform passes, each against its local fake (tests/contract/platforms.py).

Reconciler-level cases: what observe/apply/webhooks promise the engine, whatever the platform.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig
from reconcilers import ReconcilerFactory, known_platforms, reconciler_class
from reconcilers.capabilities import StockModel
from reconcilers.interface import Reconciler
from reconcilers.transport import AuthError, RetryPolicy, TemporaryError
from tests.contract.platforms import ADAPTERS, HUGE, OTHER_SECRET, WRONG, PlatformAdapter, Webhook

RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def test_every_registered_platform_has_an_adapter() -> None:
    assert set(ADAPTERS) == known_platforms()


@pytest.fixture(params=sorted(ADAPTERS))
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[PlatformAdapter]:
    adapter = ADAPTERS[request.param]()
    await adapter.start()
    yield adapter
    await adapter.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def build(
    platform: PlatformAdapter,
    session: aiohttp.ClientSession,
    *,
    wrong_credential: bool = False,
    timeout_s: float = 10.0,
    **settings: Any,
) -> Reconciler:
    """Through the registry and the factory, as the daemon builds it."""
    store = StoreConfig("c1", platform.name, "europe", "c", settings={**platform.settings(), **settings})
    factory = ReconcilerFactory(session, retry=RETRY, timeout_s=timeout_s)
    return factory.build(store, platform.credential(wrong=wrong_credential))


def sends_notifications(platform: PlatformAdapter) -> None:
    """Skip a store-notification case on a platform that sends none (drift is found by full passes)."""
    if reconciler_class(platform.name).capabilities.webhook_scheme is None:
        pytest.skip(f"{platform.name} sends no store notifications: drift is found by full passes")


def as_change(observed: Observed, quantity: int) -> Change:
    return Change(
        observed.external_id,
        Availability(quantity > 0, quantity),
        observed.as_availability(),
        observed.platform_ref,
    )


async def observe(platform: PlatformAdapter, reconciler: Reconciler, *numbers: int) -> dict[int, Observed]:
    seen = {o.external_id: o for o in await reconciler.observe([platform.synced(n) for n in numbers])}
    return {n: seen[platform.external_id(n)] for n in numbers if platform.external_id(n) in seen}


async def told(
    platform: PlatformAdapter, reconciler: Reconciler, hook: Webhook, number: int
) -> list[Observed]:
    """What a store notification says item `number` shows: its own values or, when its values are read
    back, what re-reading finds — the items it names (`reread` with items: BigCommerce's bodies carry
    ids), the items of the products it names (`reread_products`: Nuvemshop, Ecwid) or the store."""
    notified = reconciler.parse_webhook(hook.headers, hook.body)
    if notified.reread_products:
        assert reconciler.capabilities.product_of(platform.external_id(number)) in notified.reread_products
    elif notified.reread and list(notified):
        assert platform.external_id(number) in {o.external_id for o in notified}  # names the item itself
        assert all(o.available is None for o in notified)  # and claims no value
    elif not notified.reread:
        return list(notified)
    return await reconciler.observe([platform.synced(number)])


async def test_observe_reads_exactly_the_given_variants(platform: PlatformAdapter, session: Any) -> None:
    for number in range(1, 7):
        platform.seed(number, number)
    reconciler = build(platform, session)
    wanted = [platform.synced(n) for n in (2, 4, 5, 99)]  # 99 is not in the store
    observed = {o.external_id: (o.available, o.quantity) for o in await reconciler.observe(wanted)}
    assert set(observed) <= {v.external_id for v in wanted}  # never an item it was not asked for
    missing = observed.pop(platform.external_id(99), None)
    assert missing is None or missing == (True, None)  # HubRise: an item without an entry is unlimited
    assert observed == {platform.external_id(n): (True, n) for n in (2, 4, 5)}


async def test_apply_writes_absolute_values_and_reports_each_item(
    platform: PlatformAdapter, session: Any
) -> None:
    platform.seed(1, 5)
    platform.seed(2, 5)
    reconciler = build(platform, session)
    seen = await observe(platform, reconciler, 1, 2)
    result = await reconciler.apply([as_change(seen[1], 0), as_change(seen[2], 3)])
    assert result.failed == ()
    assert {o.external_id: (o.available, o.quantity) for o in result.confirmed} == {
        platform.external_id(1): (False, 0),
        platform.external_id(2): (True, 3),
    }
    assert (platform.shown(1), platform.shown(2)) == (0, 3)


async def test_partial_failure_is_per_item(platform: PlatformAdapter, session: Any) -> None:
    for number in (1, 2, 3):
        platform.seed(number, 5)
    reconciler = build(platform, session)
    seen = await observe(platform, reconciler, 1, 2, 3)
    platform.refuse_next_write(2)
    changes = [as_change(seen[n], 1) for n in (1, 2, 3)]
    result = await reconciler.apply(changes)
    outcome = {o.external_id: "ok" for o in result.confirmed}
    outcome |= {f.external_id: f.kind.value for f in result.failed}
    assert sorted(outcome) == sorted(c.external_id for c in changes)  # every item reported once
    assert len(result.confirmed) + len(result.failed) == 3
    assert outcome[platform.external_id(2)] == "permanent"
    others = [outcome[platform.external_id(n)] for n in (1, 3)]
    # all-or-nothing platforms (Shopify) report the innocent items temporary: they pass on a retry
    assert set(others) <= {"ok", "temporary"}
    retried = await reconciler.apply([c for c in changes if outcome[c.external_id] == "temporary"])
    assert retried.failed == ()
    assert (platform.shown(1), platform.shown(3)) == (1, 1)


async def test_a_refused_credential_is_permanent_clear_and_not_retried(
    platform: PlatformAdapter, session: Any
) -> None:
    platform.seed(1, 5)
    platform.seed(2, 5)
    good = await observe(platform, build(platform, session), 1, 2)
    before = platform.requests()
    reconciler = build(platform, session, wrong_credential=True)
    with pytest.raises(AuthError) as caught:
        await reconciler.observe([platform.synced(1)])
    result = await reconciler.apply([as_change(good[1], 0), as_change(good[2], 0)])
    assert result.confirmed == ()
    assert [f.kind for f in result.failed] == [FailureKind.AUTH, FailureKind.AUTH]
    assert all(f.permanent for f in result.failed)
    assert any(code in str(caught.value) + result.failed[0].reason for code in ("401", "403"))
    assert WRONG not in str(caught.value) + result.failed[0].reason
    assert platform.requests() - before <= 2  # one refused read, at most one refused write
    assert (platform.shown(1), platform.shown(2)) == (5, 5)


async def test_the_platforms_throttle_signal_is_honoured(platform: PlatformAdapter, session: Any) -> None:
    platform.seed(1, 5)
    platform.throttle_next(1)
    observed = await build(platform, session).observe([platform.synced(1)])
    assert [(o.available, o.quantity) for o in observed] == [(True, 5)]


async def test_server_errors_are_retried_then_succeed(platform: PlatformAdapter, session: Any) -> None:
    platform.seed(1, 5)
    platform.server_error_next(2)
    observed = await build(platform, session).observe([platform.synced(1)])
    assert [(o.available, o.quantity) for o in observed] == [(True, 5)]


async def test_a_store_that_never_answers_is_a_temporary_failure(
    platform: PlatformAdapter, session: Any
) -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; returns when the client gives up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent = {"sandbox": "", "shopify": "", "woocommerce": "", "hubrise": "/v1"}.get(platform.name, "")
    try:
        reconciler = build(platform, session, timeout_s=0.2, base_url=f"http://127.0.0.1:{port}{silent}")
        with pytest.raises(TemporaryError):
            await reconciler.observe([platform.synced(1)])
        result = await reconciler.apply(
            [
                Change(
                    platform.synced(1).external_id,
                    Availability(False, 0),
                    platform_ref=platform.synced(1).platform_ref,
                )
            ]
        )
        assert [f.kind for f in result.failed] == [FailureKind.TEMPORARY]
    finally:
        server.close()
        await server.wait_closed()


async def test_an_unlimited_item_never_reads_as_a_count(platform: PlatformAdapter, session: Any) -> None:
    platform.seed_unlimited(1)
    platform.seed(2, 0)
    seen = await observe(platform, build(platform, session), 1, 2)
    assert seen[1].quantity is None  # unlimited is never a count (nor 0)
    # either sellable without a count, or (where a count cannot hold it back) a problem to report
    assert seen[1].available is True or seen[1].problem is not None
    assert (seen[2].available, seen[2].quantity) == (False, 0)


async def test_a_count_the_state_database_cannot_hold_is_a_per_item_problem(
    platform: PlatformAdapter, session: Any
) -> None:
    platform.seed(1, HUGE)
    platform.seed(2, 4)
    seen = await observe(platform, build(platform, session), 1, 2)
    assert seen[1].problem is not None and str(HUGE) in seen[1].problem
    assert seen[1].quantity is None
    assert (seen[2].available, seen[2].quantity) == (True, 4)  # the rest of the store keeps syncing


async def test_webhook_signatures(platform: PlatformAdapter, session: Any) -> None:
    sends_notifications(platform)
    reconciler = build(platform, session)
    hook = platform.webhook(1, 3)
    assert reconciler.verify_webhook(hook.headers, hook.body) is True
    notified = reconciler.parse_webhook(hook.headers, hook.body)
    if platform.unsigned_webhooks:  # nothing to verify: the body may only name what to re-read
        assert not list(notified) and not notified.reread and notified.reread_products
        return
    if list(notified) or not (notified.reread or notified.reread_products):
        # values are taken from the body, so the signature must cover it; a platform that signs only
        # the event's identity (Ecwid) must take no value from the body, i.e. ask for a re-read
        assert reconciler.verify_webhook(hook.headers, hook.body + b" ") is False
    if not platform.signature_in_body:  # Wix: the body is a signed JWT, no signature header
        assert reconciler.verify_webhook({}, hook.body) is False
    other = platform.webhook(1, 3, secret=OTHER_SECRET)  # another store's secret
    assert reconciler.verify_webhook(other.headers, other.body) is False


async def test_webhook_parse_names_the_item_and_its_value(platform: PlatformAdapter, session: Any) -> None:
    sends_notifications(platform)
    platform.seed(1, 5)
    reconciler = build(platform, session)
    [seen] = (await observe(platform, reconciler, 1)).values()
    platform.seed(1, 3)  # the store now shows what its notification reports
    [notified] = await told(platform, reconciler, platform.webhook(1, 3), 1)
    assert (notified.available, notified.quantity) == (True, 3)
    ref_key = reconciler.capabilities.notification_ref
    if ref_key is None:
        assert notified.external_id == platform.external_id(1)
    else:  # the notification names the item by a ref observe() recorded
        assert notified.platform_ref is not None and seen.platform_ref is not None
        assert notified.platform_ref[ref_key] == seen.platform_ref[ref_key]


async def test_the_echo_of_our_own_write_equals_what_was_confirmed(
    platform: PlatformAdapter, session: Any
) -> None:
    sends_notifications(platform)
    platform.seed(1, 5)
    reconciler = build(platform, session)
    seen = await observe(platform, reconciler, 1)
    [confirmed] = (await reconciler.apply([as_change(seen[1], 2)])).confirmed
    [echo] = await told(platform, reconciler, platform.webhook(1, 2), 1)  # the store's news of our write
    assert (echo.available, echo.quantity) == (confirmed.available, confirmed.quantity)


async def test_a_delivery_carries_what_identifies_a_replay(platform: PlatformAdapter, session: Any) -> None:
    sends_notifications(platform)
    reconciler = build(platform, session)
    hook = platform.webhook(1, 3)
    first = reconciler.parse_webhook(hook.headers, hook.body)
    replay = reconciler.parse_webhook(hook.headers, hook.body)
    # a notification whose state is read back cannot replay an old value: what it names is re-read
    assert first.reread_products or first.delivery_id is not None or first.occurred_at is not None
    assert (replay.delivery_id, replay.occurred_at) == (first.delivery_id, first.occurred_at)
    assert first.occurred_at is None or first.occurred_at.utcoffset() is not None


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a": ' + b"1" * 5000 + b"}"])
async def test_a_hostile_webhook_body_is_refused_as_bad_input(
    platform: PlatformAdapter, session: Any, body: bytes
) -> None:
    from daemon.errors import InputError

    reconciler = build(platform, session)
    notified = reconciler.capabilities.webhook_scheme is not None
    headers = dict(platform.webhook(1, 3).headers) if notified else {}
    with pytest.raises(InputError):
        reconciler.parse_webhook(headers, body)


async def test_a_platform_without_notifications_refuses_them_clearly(
    platform: PlatformAdapter, session: Any
) -> None:
    from daemon.errors import InputError

    reconciler = build(platform, session)
    if reconciler.capabilities.webhook_scheme is not None:
        pytest.skip(f"{platform.name} sends store notifications (the webhook cases above)")
    body = b'{"topic": "order.create", "data": {}}'
    try:
        assert reconciler.verify_webhook({}, body) is False
    except InputError as exc:  # or refused outright, saying why
        assert "full pass" in str(exc)
    with pytest.raises(InputError) as caught:
        reconciler.parse_webhook({}, body)
    assert "full pass" in str(caught.value)


async def test_declared_compare_and_set_refuses_a_stale_write(
    platform: PlatformAdapter, session: Any
) -> None:
    reconciler = build(platform, session)
    if not reconciler.capabilities.compare_and_set:
        pytest.skip(f"{platform.name} declares no compare-and-set: last write wins")
    platform.seed(1, 5)
    seen = await observe(platform, reconciler, 1)
    platform.seed(1, 7)  # a merchant's edit since we read
    result = await reconciler.apply([as_change(seen[1], 0)])
    assert [f.kind for f in result.failed] == [FailureKind.PERMANENT]
    assert platform.shown(1) == 7  # the merchant's edit survives


async def test_write_requests_equal_the_number_of_write_units(
    platform: PlatformAdapter, session: Any
) -> None:
    for number in range(1, 6):
        platform.seed(number, 5)
    reconciler = build(platform, session)
    seen = await observe(platform, reconciler, *range(1, 6))
    changes = [as_change(seen[n], 0) for n in range(1, 6)]
    before = platform.requests()
    result = await reconciler.apply(changes)
    assert result.failed == ()
    units = {reconciler.capabilities.unit_of(c) for c in changes}
    assert platform.requests() - before == len(units)  # one request per write unit, no extra split


async def test_a_status_write_follows_the_declared_stock_model(
    platform: PlatformAdapter, session: Any
) -> None:
    platform.seed(1, 0)
    reconciler = build(platform, session)
    seen = await observe(platform, reconciler, 1)
    change = Change(
        seen[1].external_id, Availability(True, None), seen[1].as_availability(), seen[1].platform_ref
    )
    [confirmed] = (await reconciler.apply([change])).confirmed
    assert confirmed.available is True
    if reconciler.capabilities.stock_model is StockModel.QUANTITY:  # no flag: a count makes it sellable
        assert confirmed.quantity is not None and confirmed.quantity > 0
    assert platform.sells(1)


def test_declared_facts_name_what_the_adapter_uses(platform: PlatformAdapter) -> None:
    caps = reconciler_class(platform.name).capabilities
    if caps.webhook_scheme is not None:  # None: the platform sends no store notifications
        hook = platform.webhook(1, 1)
        if platform.unsigned_webhooks:
            assert "unsigned" in caps.webhook_scheme.lower()
        elif platform.signature_in_body:
            assert "body" in caps.webhook_scheme.lower()
        else:  # the signature header
            assert any(name.lower() in caps.webhook_scheme.lower() for name in hook.headers)
    assert caps.source and caps.unlimited  # every registered platform documents both
    assert caps.max_write_batch >= 1 and caps.max_read_batch >= 1
