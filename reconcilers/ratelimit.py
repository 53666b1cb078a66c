"""Per-store pacing fed by the platform's own signals, so steady state sees no 429.

- LeakyBucketPacer: a documented requests/s + burst (aiolimiter), plus a pause after a 429 and a
  lower rate when the store turns out to allow less than documented.
- CostPointsPacer: a query-cost bucket (Shopify GraphQL) that the platform's throttle status keeps
  in line with its own accounting.
A PacerRegistry keeps one pacer per store across passes: the budget belongs to the store. Requests made
under urgent_requests() (a pass of the variants an event named) take the store's next free slot ahead of
a full pass's waiting ones, so an event never waits behind bulk work (each class keeps its own order).
Pacers only wait; they never send, retry or log. Time is the event loop's clock (what asyncio.sleep
and aiolimiter use), so a test loop with virtual time checks pacing exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from aiolimiter import AsyncLimiter

from reconcilers.capabilities import PacingModel, RateBudget, RateWindow

if TYPE_CHECKING:
    from reconcilers.transport import Response


class Pacer(Protocol):
    async def acquire(self, cost: float = 1.0) -> None: ...

    def feed(self, response: Response) -> None: ...

    def penalize(self, delay_s: float) -> None: ...

    def after_throttle(self, attempt: int) -> float | None: ...


def until_window(windows: tuple[RateWindow, ...], attempt: int, now: float | None = None) -> float | None:
    """Seconds until the budget of a 429 without Retry-After comes back: documented windows aligned on
    round minutes/hours/days reset at the next boundary; a window that is not aligned is a cool-down
    that starts with the 429 (Squarespace: one minute), so the whole window. The n-th 429 in a row
    points at the n-th window (still throttled after the minute turned: it is the hour). None: no
    documented window."""
    if not windows:
        return None
    window = windows[min(attempt, len(windows) - 1)]
    if not window.aligned:
        return window.seconds + _BOUNDARY_MARGIN_S
    epoch = time.time() if now is None else now
    return window.seconds - epoch % window.seconds + _BOUNDARY_MARGIN_S


# the store's clock and ours differ a little: arrive just after its boundary, not just before
_BOUNDARY_MARGIN_S = 0.5
_MAX_ANNOUNCED_S = 86_400.0  # a wait announced beyond a day is not a budget window: capped


def announced_wait(headers: Mapping[str, str], reset_headers: tuple[tuple[str, float], ...]) -> float | None:
    """The longest wait the platform's reset headers announce, in seconds (None: none readable).
    Header text is bounded before float(): it comes from the network."""
    waits: list[float] = []
    for name, unit in reset_headers:
        text = (headers.get(name) or "").strip()
        if not text or len(text) > 20:
            continue
        try:
            value = float(text) * unit
        except ValueError:
            continue
        if value == value and value >= 0:  # NaN and negatives are not waits
            waits.append(min(value, _MAX_ANNOUNCED_S))
    return max(waits) if waits else None


_URGENT: ContextVar[bool] = ContextVar("stocksync_urgent_requests", default=False)


@contextlib.contextmanager
def urgent_requests() -> Iterator[None]:
    """Requests made inside (and in tasks started inside) go ahead of bulk requests of the same store."""
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


class _Turn:
    def __init__(self, urgent: bool, arrival: int) -> None:
        self.urgent = urgent
        self.arrival = arrival
        self.preempted = asyncio.Event()
        self.ready: asyncio.Future[None] | None = None  # set while it waits in line


class _Turns:
    """Whose turn it is to wait for the store's budget: one request at a time, urgent ones first, each
    class in arrival order. Only the holder waits on the budget itself, and an urgent request arriving
    while a bulk one holds the turn takes its place (the bulk one goes back to the head of its class):
    so the next slot freed while a full pass waits goes to an event's request. A full pass is never
    starved: after URGENT_RUN urgent slots in a row while it waited, its request goes next."""

    URGENT_RUN = 2

    def __init__(self) -> None:
        self._holder: _Turn | None = None
        self._urgent: list[tuple[int, _Turn]] = []
        self._bulk: list[tuple[int, _Turn]] = []
        self._urgent_run = 0  # urgent slots in a row while bulk requests waited
        self._arrivals = itertools.count()

    async def slot(self, wait_for_slot: Callable[[], Awaitable[None]]) -> None:
        """Wait for the budget in turn; `wait_for_slot` must be safe to cancel before it returns."""
        turn = _Turn(_URGENT.get(), next(self._arrivals))
        if self._holder is None and not self._urgent and not self._bulk:
            self._give(turn)
        else:
            holder = self._holder
            if (
                turn.urgent
                and holder is not None
                and not holder.urgent
                and self._urgent_run < self.URGENT_RUN
            ):
                holder.preempted.set()
            await self._wait_in_line(self._line_up(turn))
        while True:
            try:
                got = await self._unless_preempted(turn, wait_for_slot)
            except BaseException:
                self._pass_on()
                raise
            if got:
                # count slots, not turns: a bulk turn taken back before its slot does not end a run
                self._urgent_run = self._urgent_run + 1 if turn.urgent and self._bulk else 0
                self._pass_on()
                return
            # an urgent request took the turn: back to the head of our class before the turn moves on
            turn = self._line_up(_Turn(turn.urgent, turn.arrival))
            self._pass_on()
            await self._wait_in_line(turn)

    def _line_up(self, turn: _Turn) -> _Turn:
        turn.ready = asyncio.get_running_loop().create_future()
        heapq.heappush(self._urgent if turn.urgent else self._bulk, (turn.arrival, turn))
        return turn

    async def _wait_in_line(self, turn: _Turn) -> None:
        assert turn.ready is not None
        line = self._urgent if turn.urgent else self._bulk
        try:
            await turn.ready
        except asyncio.CancelledError:
            if self._holder is turn:  # handed the turn as we were cancelled
                self._pass_on()
            else:
                line[:] = [w for w in line if w[1] is not turn]
                heapq.heapify(line)
            raise

    def _give(self, turn: _Turn) -> None:
        self._holder = turn
        if turn.ready is not None and not turn.ready.done():
            turn.ready.set_result(None)

    @staticmethod
    async def _unless_preempted(turn: _Turn, wait_for_slot: Callable[[], Awaitable[None]]) -> bool:
        """True once the slot is ours; False when an urgent request took the turn first."""
        if turn.preempted.is_set():
            return False
        if turn.urgent:  # never taken back: no race to set up
            await wait_for_slot()
            return True
        slot = asyncio.ensure_future(wait_for_slot())
        preempted = asyncio.ensure_future(turn.preempted.wait())
        try:
            await asyncio.wait((slot, preempted), return_when=asyncio.FIRST_COMPLETED)
        finally:
            preempted.cancel()
            if not slot.done():
                slot.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await slot
        if slot.cancelled():
            return False
        slot.result()  # re-raise what the wait raised
        return True

    def _pass_on(self) -> None:
        self._holder = None
        bulk_first = self._urgent_run >= self.URGENT_RUN
        for line in (self._bulk, self._urgent) if bulk_first else (self._urgent, self._bulk):
            if line:
                _, turn = heapq.heappop(line)
                self._give(turn)
                return


def _now() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:  # called outside a loop (e.g. a synchronous test): same clock as the loop's
        return time.monotonic()


class _Pause:
    """Hold every request of a store until a deadline (after a 429)."""

    def __init__(self) -> None:
        self._until = 0.0

    def extend(self, delay_s: float) -> None:
        self._until = max(self._until, _now() + max(delay_s, 0.0))

    async def wait(self) -> None:
        while (remaining := self._until - _now()) > 0:  # noqa: ASYNC110 - deadline may move
            await asyncio.sleep(remaining)


# A 429 although we paced at the documented rate means the store allows less (a downgraded plan,
# another app sharing the budget): halve our rate once per throttling episode, and only step back up
# after a long quiet spell, so a too-generous documented rate costs one 429, not one every second.
_SLOWDOWN = 0.5
_FLOOR_SHARE = 1 / 64  # never below this share of the documented rate
_RECOVERY_S = 600.0
_RECOVERY_STEP = 1.25


class LeakyBucketPacer:
    """A documented requests/s with a burst; a 429 (penalize) or an empty budget header pauses all,
    and a 429 also lowers the rate (see _SLOWDOWN)."""

    def __init__(
        self,
        requests_per_second: float,
        burst: int = 1,
        *,
        windows: tuple[RateWindow, ...] = (),
        remaining_header: str | None = "X-RateLimit-Remaining",
        reset_headers: tuple[tuple[str, float], ...] = (),
    ) -> None:
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self.documented_rate = requests_per_second
        self._windows = windows
        self._remaining_header = remaining_header
        self._reset_headers = reset_headers
        self._announced: float | None = None  # the wait the last answer announced (reset_headers)
        self._burst = max(1, burst)
        self._limiter = self._limiter_for(requests_per_second)
        self._pause = _Pause()
        self._throttled_at: float | None = None
        self._episode_until = 0.0
        self._turns = _Turns()
        self.acquired = 0

    @property
    def rate(self) -> float:
        return float(self._limiter.max_rate / self._limiter.time_period)

    def _limiter_for(self, rate: float) -> AsyncLimiter:
        return AsyncLimiter(self._burst, self._burst / rate)

    async def acquire(self, cost: float = 1.0) -> None:
        async def wait_for_slot() -> None:
            self._recover()
            await self._pause.wait()
            await self._limiter.acquire(min(max(cost, 0.0), self._limiter.max_rate))

        await self._turns.slot(wait_for_slot)
        self.acquired += 1

    def feed(self, response: Response) -> None:
        """Platforms that announce an empty budget (`X-RateLimit-Remaining: 0`) get a pause: until the
        budget comes back when the platform says when (reset_headers), else a short one."""
        self._announced = announced_wait(response.headers, self._reset_headers)
        if self._remaining_header is None:
            return
        remaining = response.headers.get(self._remaining_header)
        if remaining is not None and remaining.strip() == "0":
            self._pause.extend(self._announced or 1.0 / max(self.rate, 1e-6))

    def penalize(self, delay_s: float) -> None:
        now = _now()
        if now >= self._episode_until:  # 429s to requests already in flight belong to one episode
            slower = max(self.rate * _SLOWDOWN, self.documented_rate * _FLOOR_SHARE)
            self._limiter = self._limiter_for(slower)
        self._episode_until = max(self._episode_until, now + max(delay_s, 0.0))
        self._throttled_at = now
        self._pause.extend(delay_s)

    def after_throttle(self, attempt: int) -> float | None:
        # fed the 429 itself just before: its own announcement beats a computed window boundary
        return self._announced if self._announced is not None else until_window(self._windows, attempt)

    def _recover(self) -> None:
        quiet = self._throttled_at is not None and _now() - self._throttled_at >= _RECOVERY_S
        if quiet and self.rate < self.documented_rate:
            self._limiter = self._limiter_for(min(self.documented_rate, self.rate * _RECOVERY_STEP))
            self._throttled_at = _now()


class CostPointsPacer:
    """Estimates available points between platform reports; waits until a request's cost fits."""

    def __init__(self, bucket_size: float, restore_rate: float) -> None:
        if bucket_size <= 0 or restore_rate <= 0:
            raise ValueError("bucket_size and restore_rate must be positive")
        self.maximum = bucket_size
        self.restore_rate = restore_rate
        self._available = bucket_size
        self._stamp = _now()
        self._pause = _Pause()
        self._turns = _Turns()

    @property
    def available(self) -> float:
        elapsed = max(0.0, _now() - self._stamp)
        return min(self.maximum, self._available + elapsed * self.restore_rate)

    async def acquire(self, cost: float = 1.0) -> None:
        cost = min(cost, self.maximum)

        async def wait_for_slot() -> None:
            await self._pause.wait()
            # a loop, not one sleep: update() or penalize() may lower the estimate while we wait
            while (shortfall := cost - self.available) > 0:  # noqa: ASYNC110 - the estimate may move
                await asyncio.sleep(shortfall / self.restore_rate)
                await self._pause.wait()
            self._available = self.available - cost
            self._stamp = _now()

        await self._turns.slot(wait_for_slot)

    def update(self, *, currently_available: float, maximum_available: float, restore_rate: float) -> None:
        """The platform's own accounting wins over our estimate."""
        self.maximum = max(maximum_available, 1.0)
        self.restore_rate = max(restore_rate, 1e-6)
        self._available = min(max(currently_available, 0.0), self.maximum)
        self._stamp = _now()

    def feed(self, response: Response) -> None:
        return None  # the reconciler parses its platform's throttle status and calls update()

    def penalize(self, delay_s: float) -> None:
        self._pause.extend(delay_s)

    def after_throttle(self, attempt: int) -> float | None:
        return None  # THROTTLED answers say how long: the reconciler's retry_if computes it


def build_pacer(budget: RateBudget) -> Pacer:
    if budget.model is PacingModel.COST_POINTS:
        return CostPointsPacer(budget.bucket_size, budget.restore_rate)
    return LeakyBucketPacer(
        budget.requests_per_second,
        budget.burst,
        windows=budget.windows,
        remaining_header=budget.remaining_header,
        reset_headers=budget.reset_headers,
    )


class PacerRegistry:
    """One pacer per store id, kept across passes so a store's budget persists between them."""

    def __init__(self) -> None:
        self._pacers: dict[str, tuple[RateBudget, Pacer]] = {}

    def get(self, store_id: str, budget: RateBudget) -> Pacer:
        """The store's pacer; a changed budget (store settings re-imported) starts a fresh one."""
        known = self._pacers.get(store_id)
        if known is None or known[0] != budget:
            known = self._pacers[store_id] = (budget, build_pacer(budget))
        return known[1]
