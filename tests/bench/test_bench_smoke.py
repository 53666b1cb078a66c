"""The benchmark scenarios at toy sizes, so `make bench` cannot rot between runs.

Only counts are asserted (writes vs the floor, an unchanged second pass, planned vs raw diff), never
times: those belong to `make bench`.
"""

from __future__ import annotations

from tests.bench import diff_cost, minimality, platforms
from tests.bench.report import table
from tests.contract.platforms import ADAPTERS


async def test_minimality_writes_the_floor_and_nothing_on_a_second_pass(server_dsn: str) -> None:
    figures = await minimality.run(server_dsn, stores=2, variants=300, changed_percent=10)
    assert figures["write_calls"] == figures["write_floor"] == 2 * 1  # 30 changes fit one batch of 50
    assert figures["second_pass_write_calls"] == 0
    assert figures["naive_calls"] == 2 * (300 + 30)  # one read per variant, one write per change
    assert figures["stocksync_calls"] == 2 * (3 + 1)
    assert "write calls / floor" in table({"scenarios": {"minimality": figures}})


async def test_planning_finds_exactly_the_raw_diff(server_dsn: str) -> None:
    figures = await diff_cost.run(server_dsn, stores=3, variants=200, changed_percent=5)
    assert figures["writes_found"] == 3 * 10


async def test_every_platform_writes_its_floor_and_nothing_on_a_second_pass(server_dsn: str) -> None:
    figures = (await platforms.run(server_dsn, variants=40, changed_percent=10))["platforms"]
    assert set(figures) == set(ADAPTERS)
    for name, platform in figures.items():
        assert platform["changes_applied"] == platform["changes"] == 4, name
        assert platform["still_selling_after_pass"] == 0, name
        assert platform["write_calls"] == platform["write_floor"], name
        assert platform["second_pass_write_calls"] == 0, name
    assert "hubrise write calls / floor" in table({"scenarios": {"platforms": {"platforms": figures}}})
