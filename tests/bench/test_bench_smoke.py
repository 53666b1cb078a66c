"""The benchmark scenarios at toy sizes, so `make bench` cannot rot between runs.

Only counts are asserted (writes vs the floor, an unchanged second pass, planned vs raw diff), never
times: those belong to `make bench`.
"""

from __future__ import annotations

from tests.bench import accounting, cpu, diff_cost, events_ahead, latency, minimality, platforms
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


async def test_one_event_batch_costs_one_commit_and_its_writes_arrive(server_dsn: str) -> None:
    figures = await accounting.run(server_dsn, requests=5, variants=200)
    assert figures["commits_per_request"] == 1.0  # the batch's transaction, nothing else
    assert figures["round_trips_per_request"] > 0 and figures["round_trips_per_item"] > 0


async def test_events_reach_a_store_while_its_full_pass_runs_and_the_pass_writes_its_floor(
    server_dsn: str,
) -> None:
    figures = await events_ahead.run(server_dsn, variants=3_000, rate=20.0, events_per_s=5.0)
    assert figures["events"] > 0 and figures["events_written"] == figures["events"]
    assert figures["pass_changes_written"] == figures["changed"] == 30
    assert figures["pass_write_calls"] == figures["pass_write_floor"] == 1


async def test_the_latency_scenario_counts_every_event_it_sent(server_dsn: str) -> None:
    figures = await latency.run(server_dsn, rates=[50], seconds=1.0, variants=400, repeats=1)
    (run,) = figures["runs"]["50"]
    assert run["events"] == 50 and run["lost"] == 0 and run["refused"] == 0
    assert "table" not in figures and "p99_ms" in figures["rates"]["50"]


async def test_the_server_process_is_found_so_its_cpu_is_counted(server_dsn: str) -> None:
    """A full run reported no PostgreSQL CPU: the backend was looked up after its connection closed."""
    postmaster = await cpu.postmaster_pid(server_dsn)
    assert postmaster is not None and cpu.server_cpu_s(postmaster) > 0
