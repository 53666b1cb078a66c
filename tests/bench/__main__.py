"""`make bench` / `make bench QUICK=1`: run every scenario, write tests/bench/results.json, print a table."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.bench import (
    accounting,
    diff_cost,
    events_ahead,
    latency,
    minimality,
    platforms,
    rate_limit,
    throughput,
)
from tests.bench.environment import external_server, machine, postgres_server, postgres_version
from tests.bench.report import table

RESULTS = Path(__file__).with_name("results.json")

FULL: dict[str, dict[str, Any]] = {
    "minimality": {"stores": 20, "variants": 5_000, "changed_percent": 10},
    "diff_cost": {"stores": 1_000, "variants": 1_000, "changed_percent": 1},
    "throughput": {"variants": 100_000, "rss_variants": 1_000_000},
    "latency": {"rates": [50, 200, 1_000, 2_000, 4_000], "seconds": 10.0, "variants": 40_000, "repeats": 5},
    "rate_limit": {"rate": 20.0, "variants": 2_000},
    "platforms": {"variants": 1_000, "changed_percent": 10},
    "accounting": {"requests": 200, "variants": 4_000},
    "events_ahead": {"variants": 100_000, "rate": 5.0, "events_per_s": 2.0},
}
QUICK: dict[str, dict[str, Any]] = {
    "minimality": {"stores": 5, "variants": 2_000, "changed_percent": 10},
    "diff_cost": {"stores": 100, "variants": 1_000, "changed_percent": 1},
    "throughput": {"variants": 50_000, "rss_variants": 100_000},
    "latency": {"rates": [50, 200, 1_000], "seconds": 3.0, "variants": 20_000, "repeats": 2},
    "rate_limit": {"rate": 20.0, "variants": 2_000},  # as full: one Retry-After second must amortize
    "platforms": {"variants": 200, "changed_percent": 10},
    "accounting": {"requests": 50, "variants": 1_000},
    "events_ahead": {"variants": 20_000, "rate": 5.0, "events_per_s": 2.0},
}
SCENARIOS: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    "minimality": minimality.run,
    "diff_cost": diff_cost.run,
    "throughput": throughput.run,
    "latency": latency.run,
    "rate_limit": rate_limit.run,
    "platforms": platforms.run,
    "accounting": accounting.run,
    "events_ahead": events_ahead.run,
}
# Run again against the external server (the shape production has), when one answers.
ON_BOTH_SERVERS = ("latency", "accounting")


async def run_all(
    server_dsn: str, external_dsn: str | None, sizes: dict[str, dict[str, Any]], only: list[str]
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        servers = [(name, server_dsn)]
        if external_dsn and name in ON_BOTH_SERVERS:
            servers.append((f"{name}_external", external_dsn))
        for key, dsn in servers:
            started = time.perf_counter()
            results[key] = await scenario(dsn, **sizes[name])
            results[key]["scenario_wall_s"] = round(time.perf_counter() - started, 1)
            print(f"  {key}: done in {results[key]['scenario_wall_s']} s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--quick", action="store_true", help="reduced sizes (under two minutes)")
    parser.add_argument("--only", action="append", default=[], choices=sorted(SCENARIOS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--external-dsn",
        help="a second, external server for the latency and accounting scenarios (default: "
        "STOCKSYNC_BENCH_EXTERNAL_DSN, else the PostgreSQL on 127.0.0.1:5432 if one answers; 'none': skip)",
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)  # pass logs would time the terminal, not stocksync
    sizes = QUICK if args.quick else FULL
    external = external_server(args.external_dsn)
    with postgres_server() as dsn:
        header = {"machine": machine(), "postgres": asyncio.run(postgres_version(dsn)), "quick": args.quick}
        if external:
            header["postgres_external"] = asyncio.run(postgres_version(external))
        print(
            f"stocksync benchmarks ({'quick' if args.quick else 'full'}) on PostgreSQL {header['postgres']}"
            + (f" and an external PostgreSQL {header['postgres_external']}" if external else "")
        )
        scenarios = asyncio.run(run_all(dsn, external, sizes, args.only))
    document = header | {
        "sizes": {k: sizes[k.removesuffix("_external")] for k in scenarios},
        "scenarios": scenarios,
    }
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(table(document))
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
