"""Store workers wake one at a time on a NOTIFY (daemon/workers.py _Doorbell)."""

from __future__ import annotations

import asyncio

from daemon.workers import _Doorbell


async def _woken(bell: _Doorbell, waiters: int, timeout_s: float) -> list[bool]:
    """Which waiters returned well before their timeout after one ring."""

    async def one() -> bool:
        started = asyncio.get_running_loop().time()
        await bell.wait(timeout_s)
        return asyncio.get_running_loop().time() - started < timeout_s / 2

    tasks = [asyncio.create_task(one()) for _ in range(waiters)]
    await asyncio.sleep(0.01)
    bell.ring()
    return list(await asyncio.gather(*tasks))


async def test_a_ring_wakes_exactly_one_idle_worker() -> None:
    bell = _Doorbell()
    woken = await _woken(bell, 4, timeout_s=1.0)
    assert sorted(woken) == [False, False, False, True]
    assert bell.idle == 0  # the others timed out and left no waiter behind


async def test_a_ring_nobody_heard_is_kept_for_the_next_waiter() -> None:
    bell = _Doorbell()
    bell.ring()
    await asyncio.wait_for(bell.wait(30), 1)  # returns at once


async def test_ring_all_wakes_everyone() -> None:
    bell = _Doorbell()
    tasks = [asyncio.create_task(bell.wait(30)) for _ in range(3)]
    await asyncio.sleep(0.01)
    bell.ring_all()
    await asyncio.wait_for(asyncio.gather(*tasks), 1)
