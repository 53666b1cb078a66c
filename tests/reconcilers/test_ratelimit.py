"""Pacers checked on a virtual clock: exact timings with no real waiting and no wall-clock assertion."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
from multidict import CIMultiDict

from reconcilers.capabilities import PacingModel, RateBudget, RateWindow
from reconcilers.ratelimit import (
    CostPointsPacer,
    LeakyBucketPacer,
    Pacer,
    PacerRegistry,
    build_pacer,
    until_window,
    urgent_requests,
)
from reconcilers.transport import Response

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: when nothing is ready, the clock jumps to the next timer instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if not ready and timeout:
            self.now += timeout
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose time() only moves when every task waits on a timer."""

    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return float(self._virtual.now)


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh virtual-time loop (sync tests only: no loop may be running)."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def now() -> float:
    return asyncio.get_running_loop().time()


async def completion_times(pacer: Pacer, count: int, cost: float = 1.0) -> list[float]:
    """When each of `count` concurrent acquires got through, in the order they were asked."""
    times: list[float] = [0.0] * count

    async def one(i: int) -> None:
        await pacer.acquire(cost)
        times[i] = now()

    await asyncio.gather(*(one(i) for i in range(count)))
    return times


def most_in_any_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(sum(1 for t in ordered if start <= t < start + window - 1e-9) for start in ordered)


def test_leaky_bucket_spends_the_burst_then_paces_at_the_rate() -> None:
    async def main() -> list[float]:
        return await completion_times(LeakyBucketPacer(requests_per_second=10, burst=5), 25)

    times = run_virtual(main)
    assert times[:5] == [0.0] * 5  # the burst goes at once
    assert times == sorted(times)  # first asked, first served
    gaps = [b - a for a, b in zip(times[5:], times[6:], strict=False)]
    assert all(gap == pytest.approx(0.1) for gap in gaps)  # then exactly the documented rate
    assert times[-1] == pytest.approx(2.0)  # 25 requests: 5 at once + 20 at 10/s → most of the budget used
    assert most_in_any_window(times, 1.0) <= 10 + 5  # never more than rate + burst in one second: no 429


def test_penalize_holds_every_request_of_the_store_until_the_deadline() -> None:
    async def main() -> tuple[list[float], list[float]]:
        held, other_store = LeakyBucketPacer(100, 10), LeakyBucketPacer(100, 10)
        held.penalize(3.0)
        held.penalize(1.0)  # a shorter penalty never shortens the pause
        return await asyncio.gather(completion_times(held, 3), completion_times(other_store, 3))

    held_times, other_times = run_virtual(main)
    assert held_times == [pytest.approx(3.0)] * 3
    assert other_times == [0.0] * 3  # pacers are per store: another store never waits


def test_empty_budget_header_pauses_for_one_request_interval() -> None:
    async def main() -> float:
        pacer = LeakyBucketPacer(4, 10)
        pacer.feed(Response(200, CIMultiDict({"x-ratelimit-remaining": "0"}), None, "https://x.test/"))
        await pacer.acquire()
        return now()

    assert run_virtual(main) == pytest.approx(0.25)


def test_cost_pacer_waits_until_points_restore() -> None:
    async def main() -> list[float]:
        return await completion_times(CostPointsPacer(bucket_size=100, restore_rate=10), 4, cost=50)

    # 100 points cover two queries at once; each further 50 points take 5 s at 10 points/s
    assert run_virtual(main) == [0.0, 0.0, pytest.approx(5.0), pytest.approx(10.0)]


def test_cost_pacer_follows_the_platforms_own_report() -> None:
    async def main() -> tuple[float, float, float]:
        pacer = CostPointsPacer(bucket_size=1000, restore_rate=50)
        pacer.update(currently_available=100, maximum_available=2000, restore_rate=100)
        assert pacer.maximum == 2000 and pacer.restore_rate == 100
        await pacer.acquire(300)  # 200 short at 100/s
        first = now()
        pacer.update(currently_available=0, maximum_available=2000, restore_rate=100)
        await pacer.acquire(100)
        second = now()
        await pacer.acquire(5000)  # more than the bucket holds: capped, waits for a full bucket
        return first, second, now()

    first, second, third = run_virtual(main)
    assert first == pytest.approx(2.0)
    assert second == pytest.approx(3.0)
    assert third == pytest.approx(23.0)


def test_cost_pacer_rechecks_when_a_report_lowers_the_estimate_mid_wait() -> None:
    async def main() -> float:
        pacer = CostPointsPacer(bucket_size=100, restore_rate=10)
        await pacer.acquire(100)
        waiter = asyncio.create_task(pacer.acquire(50))  # would be ready at t=5
        await asyncio.sleep(4)
        pacer.update(currently_available=0, maximum_available=100, restore_rate=10)  # platform says: empty
        await waiter
        return now()

    assert run_virtual(main) == pytest.approx(9.0)


def test_cost_pacer_penalty_pauses_acquires() -> None:
    async def main() -> float:
        pacer = CostPointsPacer(bucket_size=100, restore_rate=10)
        pacer.penalize(2.0)
        await pacer.acquire(1)
        return now()

    assert run_virtual(main) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("budget", "kind"),
    [
        (RateBudget(2, 4), LeakyBucketPacer),
        (RateBudget(1, 1, PacingModel.COST_POINTS, bucket_size=1000, restore_rate=50), CostPointsPacer),
    ],
)
def test_build_pacer_follows_the_budgets_model(budget: RateBudget, kind: type[object]) -> None:
    assert isinstance(build_pacer(budget), kind)


def test_invalid_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="requests_per_second"):
        LeakyBucketPacer(0)
    with pytest.raises(ValueError, match="bucket_size"):
        CostPointsPacer(0, 10)


def test_registry_keeps_the_same_pacer_per_store_across_passes() -> None:
    registry, budget = PacerRegistry(), RateBudget(10, 5)
    first = registry.get("store-a", budget)
    assert registry.get("store-a", RateBudget(10, 5)) is first  # equal budget: the same pacer
    assert registry.get("store-b", budget) is not first
    renewed = registry.get("store-a", RateBudget(20, 5))  # settings changed: fresh pacer, then kept
    assert renewed is not first and registry.get("store-a", RateBudget(20, 5)) is renewed


async def test_pacers_work_on_the_real_loop_too() -> None:
    pacer: Pacer = LeakyBucketPacer(1000, 3)
    await asyncio.wait_for(asyncio.gather(*(pacer.acquire() for _ in range(3))), timeout=5)
    assert isinstance(pacer, LeakyBucketPacer) and pacer.acquired == 3


def test_a_429_halves_the_rate_once_per_episode_and_it_recovers_after_a_quiet_spell() -> None:
    async def main() -> tuple[list[float], list[float]]:
        # rates whose intervals are exact binary fractions: the virtual clock cannot absorb a remainder
        pacer = LeakyBucketPacer(requests_per_second=8, burst=1)
        # the 429 itself announces an empty budget first (feed), which must not hide the episode
        pacer.feed(Response(429, CIMultiDict({"x-ratelimit-remaining": "0"}), None, "https://x.test/"))
        pacer.penalize(1.0)
        pacer.penalize(1.0)  # a second answer of the same episode: no second slowdown
        assert pacer.rate == pytest.approx(4)
        slowed = await completion_times(pacer, 4)
        await asyncio.sleep(600)  # ten quiet minutes
        recovered = await completion_times(pacer, 3)
        assert pacer.rate == pytest.approx(5)  # one step back towards the documented 8/s
        return slowed, recovered

    slowed, recovered = run_virtual(main)
    assert sorted(slowed) == [pytest.approx(t) for t in (1.0, 1.25, 1.5, 1.75)]  # the pause, then 4/s
    gaps = [b - a for a, b in zip(recovered, recovered[1:], strict=False)]
    assert gaps == [pytest.approx(0.2)] * 2


def test_the_rate_never_falls_below_a_floor() -> None:
    async def main() -> float:
        pacer = LeakyBucketPacer(requests_per_second=64, burst=1)
        for _ in range(20):
            pacer.penalize(0.5)
            await asyncio.sleep(1)  # each 429 a new episode
        return pacer.rate

    assert run_virtual(main) == pytest.approx(1.0)


def test_a_window_that_is_not_aligned_is_a_cool_down_from_the_429() -> None:
    cool_down = (RateWindow(300, 60, aligned=False),)
    # whatever the clock says, the whole minute (+ the boundary margin), never the rest of a round minute
    assert until_window(cool_down, 0, now=59.0) == pytest.approx(60.5)
    assert until_window(cool_down, 3, now=1.0) == pytest.approx(60.5)
    aligned = (RateWindow(500, 60), RateWindow(2500, 3600))
    assert until_window(aligned, 0, now=3659.0) == pytest.approx(1.5)  # the next round minute
    assert until_window(aligned, 1, now=3659.0) == pytest.approx(3541.5)  # the next round hour
    assert until_window((), 0) is None
    pacer = LeakyBucketPacer(5, 1, windows=cool_down, remaining_header=None)
    assert pacer.after_throttle(0) == pytest.approx(60.5)


@pytest.mark.parametrize(
    # 4/s: the virtual clock needs intervals that are exact binary fractions
    "make",
    [lambda: LeakyBucketPacer(requests_per_second=4, burst=1), lambda: CostPointsPacer(1, 4)],
)
def test_event_requests_go_ahead_of_a_full_pass_waiting_for_the_same_store(make: Callable[[], Pacer]) -> None:
    """Found by the events-ahead benchmark: a full pass queued its reads on the store's pacer and an
    event's write waited behind all of them (p99 6 s at 5 requests/s). Urgent requests (passes of the
    queued variants an event named) take the next free slot, even from a bulk request already waiting
    for it; bulk ones keep their own order."""

    async def main() -> tuple[list[float], float]:
        pacer = make()
        await pacer.acquire()  # the budget is spent: everything below waits for a slot
        bulk = asyncio.ensure_future(completion_times(pacer, 8))
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the pass's requests are queued first, one of them already waiting
        with urgent_requests():
            await pacer.acquire()
        urgent_at = now()
        return await bulk, urgent_at

    bulk_times, urgent_at = run_virtual(main)
    assert urgent_at == pytest.approx(0.25)  # the very next slot, not the ninth
    assert min(bulk_times) > urgent_at
    assert bulk_times == sorted(bulk_times)  # the pass's own requests keep their order


def test_a_stream_of_event_requests_leaves_a_full_pass_every_third_slot() -> None:
    """Found by the same benchmark: with events asking for every slot, urgent-first starved the pass
    (a 20,000-variant pass took 464 s instead of 16 s). A pass sends one request after another."""

    async def main() -> list[tuple[float, str]]:
        pacer = LeakyBucketPacer(requests_per_second=4, burst=1)
        await pacer.acquire()
        slots: list[tuple[float, str]] = []

        async def one_after_another(kind: str, count: int) -> None:
            for _ in range(count):
                await pacer.acquire()
                slots.append((now(), kind))

        async def events() -> None:
            with urgent_requests():
                await one_after_another("urgent", 8)

        await asyncio.gather(one_after_another("bulk", 4), events())
        return sorted(slots)

    kinds = [kind for _, kind in run_virtual(main)]
    assert kinds[:9] == ["urgent", "urgent", "bulk", "urgent", "urgent", "bulk", "urgent", "urgent", "bulk"]
