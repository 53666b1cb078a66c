"""The /metrics text of a real running daemon carries every metric the shipped alert rules and the
dashboard use, with the labels the rules expect: the rules evaluated by promtool over the live series
raise the alerts the store's state calls for."""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from daemon.db.pool import Pool
from tests.e2e.daemon_process import eventually, running_daemon
from tests.e2e.harness import world
from tests.monitoring import (
    PROMETHEUS_SERIES,
    RULES,
    dashboard_expressions,
    metric_names,
    rule_expressions,
    scraped_names,
)


def live_series(scrape: str, wanted: set[str]) -> list[dict[str, str]]:
    """input_series for promtool: each sample of a wanted name held for 40 minutes, as one target."""
    series = []
    for line in scrape.splitlines():
        if not line or line.startswith("#"):
            continue
        selector, value = line.rsplit(" ", 1)
        name = re.split(r"[{ ]", selector, maxsplit=1)[0]
        if name not in wanted or not math.isfinite(float(value)):
            continue
        target = 'job="stocksync",instance="live:8787"'
        selector = selector[:-1] + "," + target + "}" if selector.endswith("}") else name + "{" + target + "}"
        series.append({"series": selector, "values": f"{float(value)!r}+0x40"})
    return series


def expected(alert: str, labels: dict[str, str]) -> dict[str, Any]:
    (rule,) = [
        r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if r.get("alert") == alert
    ]

    def render(text: str) -> str:
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)

    return {
        "exp_labels": labels | rule["labels"],
        "exp_annotations": {key: render(text) for key, text in rule["annotations"].items()},
    }


async def test_a_running_daemon_exports_what_the_rules_and_the_dashboard_use(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na")
        for variant in ("tee", "mug"):
            await w.variant(variant, stock={"us1": "in_stock"})
            await w.map("na", f"E-{variant.upper()}", variant, (True, None))
        async with running_daemon(db_dsn, tmp_path, w.credentials_dir) as daemon:
            last_success = "SELECT last_success_at IS NOT NULL FROM store_schedule WHERE store_id = 'na'"
            assert await eventually(lambda: pool.fetchval(last_success), timeout_s=30)  # the first pass
            assert await daemon.post_sold_out("tee", "us1") == 202
            assert await eventually(lambda: _written(w.writes("na")))
            # the store's state as an operator would be alerted about it
            await pool.execute(
                "UPDATE store_schedule SET guard_held_at = now(), circuit_open_until = now() + interval '1 hour'"
            )
            await pool.execute("UPDATE store_state SET contested = true WHERE external_id = 'E-MUG'")
            # an upstream source that never pulled (its feed is unreachable: the pull fails, stays stale)
            await pool.execute(
                "INSERT INTO sources (id, kind, facilities, settings, created_at) VALUES ('feed', 'http_feed',"
                " '{us1}', '{\"url\": \"http://127.0.0.1:9/feed.json\"}', now() - interval '2 days')"
            )
            await pool.execute("INSERT INTO source_state (source_id) VALUES ('feed') ON CONFLICT DO NOTHING")
            status, scrape = await daemon.get("/metrics")
    assert status == 200
    declared, sampled = scraped_names(scrape)
    by_rules = {name for _, expr in rule_expressions() for name in metric_names(expr)} - PROMETHEUS_SERIES
    by_dashboard = {
        name for _, expr in dashboard_expressions() for name in metric_names(expr)
    } - PROMETHEUS_SERIES
    assert (by_rules | by_dashboard) - declared == set()
    assert by_rules - sampled == set()  # every series an alert reads exists once a store is synced
    for sample in (
        'stocksync_full_pass_interval_seconds{store_id="na"} 14400.0',
        'stocksync_contested_variants{platform="sandbox"} 1.0',
        'stocksync_guard_held{store_id="na"} 1.0',
    ):
        assert sample in scrape.splitlines()

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool not installed (Debian package 'prometheus'); names checked, rules not evaluated"
        )
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": live_series(scrape, by_rules),
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": "StocksyncGuardHeld",
                        "exp_alerts": [expected("StocksyncGuardHeld", {"store_id": "na"})],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "StocksyncCircuitOpen",
                        "exp_alerts": [expected("StocksyncCircuitOpen", {"store_id": "na"})],
                    },
                    *(
                        {"eval_time": "20m", "alertname": quiet, "exp_alerts": []}
                        for quiet in (
                            "StocksyncStoreNeverSynced",
                            "StocksyncDatabaseDown",
                            "StocksyncQueueStuck",
                        )
                    ),
                ],
            }
        ],
    }
    path = tmp_path / "live.test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = await asyncio.to_thread(
        subprocess.run,
        [promtool, "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def _written(writes: list[str]) -> bool:
    return "E-TEE" in writes
