"""The printed table: each figure beside its target from the issue, all from the same run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (scenario, label, how to read the value, target text, is the target met)
Row = tuple[str, str, Callable[[dict[str, Any]], Any], str, Callable[[Any], bool] | None]

ROWS: list[Row] = [
    ("minimality", "write calls / floor", lambda s: s["write_ratio"], "1.00", lambda v: v == 1.0),
    (
        "minimality",
        "write calls on unchanged 2nd pass",
        lambda s: s["second_pass_write_calls"],
        "0",
        lambda v: v == 0,
    ),
    (
        "minimality",
        "API calls: naive / stocksync",
        lambda s: f"{s['naive_calls']} / {s['stocksync_calls']}",
        "",
        None,
    ),
    ("minimality", "fewer calls than naive (×)", lambda s: s["call_ratio"], "≥ 50", lambda v: v >= 50),
    (
        "minimality",
        "wall s: naive / stocksync",
        lambda s: f"{s['naive_wall_s']} / {s['stocksync_wall_s']}",
        "",
        None,
    ),
    (
        "diff_cost",
        "planning s / raw SQL diff s",
        lambda s: f"{s['planning_s']} / {s['raw_sql_diff_s']}",
        "",
        None,
    ),
    ("diff_cost", "planning ÷ raw SQL (×)", lambda s: s["ratio"], "≤ 2", lambda v: v <= 2),
    ("throughput", "full pass variants/s", lambda s: s["variants_per_s"], "≥ 20000", lambda v: v >= 20_000),
    (
        "throughput",
        "peak RSS MB of one stocksync sync",
        lambda s: s["peak_rss_mb"],
        "< 300",
        lambda v: v < 300,
    ),
    ("throughput", "variants in that pass", lambda s: s["rss_variants"], "", None),
    (
        "rate_limit",
        "budget used (declared = limit)",
        lambda s: s["declared_equals_limit"]["budget_used"],
        "≥ 0.90",
        lambda v: v >= 0.9,
    ),
    (
        "rate_limit",
        "429s after the first (declared = limit)",
        lambda s: s["declared_equals_limit"]["throttled_after_first"],
        "0",
        lambda v: v == 0,
    ),
    (
        "rate_limit",
        "budget used (declared 2× limit)",
        lambda s: s["declared_twice_limit"]["budget_used"],
        "≥ 0.90",
        lambda v: v >= 0.9,
    ),
    (
        "rate_limit",
        "429s after the first (declared 2× limit)",
        lambda s: s["declared_twice_limit"]["throttled_after_first"],
        "0",
        lambda v: v == 0,
    ),
]


def table(document: dict[str, Any]) -> str:
    scenarios = document["scenarios"]
    lines = [f"{'scenario':<19} {'figure':<42} {'value':>22}  {'target':<8} met"]
    for scenario, label, read, target, met in _rows(scenarios):
        value = read(scenarios[scenario])
        verdict = "" if met is None else ("yes" if met(value) else "NO")
        lines.append(f"{scenario:<19} {label:<42} {value!s:>22}  {target:<8} {verdict}")
    return "\n".join(lines)


def _rows(scenarios: dict[str, Any]) -> list[Row]:
    rows = [r for r in ROWS if r[0] in scenarios]
    for key in ("latency", "latency_external"):
        for rate, figures in scenarios.get(key, {}).get("rates", {}).items():
            rows.extend(_latency_rows(key, rate, figures))
        if key in scenarios:
            rows.append(
                (
                    key,
                    "highest rate sustained, min / median / max",
                    lambda s: "{min} / {median} / {max}".format(**s["max_sustained_per_s"]),
                    "≥ 2000",
                    lambda v: float(v.split(" / ")[0]) >= 2000,
                )
            )
    if "events_ahead" in scenarios:
        rows.extend(_EVENTS_AHEAD_ROWS)
    for key in ("accounting", "accounting_external"):
        if key in scenarios:
            rows.extend(_accounting_rows(key))
    for name, figures in scenarios.get("platforms", {}).get("platforms", {}).items():
        rows.extend(_platform_rows(name, figures))
    return rows


def _platform_rows(name: str, figures: dict[str, Any]) -> list[Row]:
    return [
        (
            "platforms",
            f"{name} write calls / floor",
            lambda s: f"{figures['write_calls']} / {figures['write_floor']}",
            "= floor",
            lambda v: v.split(" / ")[0] == v.split(" / ")[1],
        ),
        (
            "platforms",
            f"{name} requests; s at {figures['documented_requests_per_s']:.3g}/s documented",
            lambda s: f"{figures['requests']}; {figures['pass_s_at_documented_rate']}",
            "",
            None,
        ),
    ]


_EVENTS_AHEAD_ROWS: list[Row] = [
    (
        "events_ahead",
        "event → write p50 / p99 / max ms",
        lambda s: f"{s['p50_ms']} / {s['p99_ms']} / {s['max_ms']}",
        "p99 < 1000",
        lambda v: float(v.split(" / ")[1]) < 1000,
    ),
    (
        "events_ahead",
        "full pass write calls / floor",
        lambda s: f"{s['pass_write_calls']} / {s['pass_write_floor']}",
        "= floor",
        lambda v: v.split(" / ")[0] == v.split(" / ")[1],
    ),
]


def _accounting_rows(key: str) -> list[Row]:
    return [
        (
            key,
            "round trips / commits per request",
            lambda s: f"{s['round_trips_per_request']} / {s['commits_per_request']}",
            "",
            None,
        ),
        (
            key,
            "round trips / commits per written item",
            lambda s: f"{s['round_trips_per_item']} / {s['commits_per_item']}",
            "",
            None,
        ),
    ]


def _latency_rows(key: str, rate: str, figures: dict[str, Any]) -> list[Row]:
    """p99 and CPU per 1,000 events as min / median / max over the repeats."""

    def spread(key: str) -> Callable[[dict[str, Any]], str]:
        def read(_: dict[str, Any]) -> str:
            value = figures.get(key)
            return "{min} / {median} / {max}".format(**value) if value else "-"

        return read

    target, met = ("< 100", lambda v: float(v.split(" / ")[2]) < 100) if rate == "1000" else ("", None)
    return [
        (key, f"{rate}/s p99 ms min/med/max", spread("p99_ms"), target, met),
        (key, f"{rate}/s sustained in repeats", lambda s: figures["sustained"], "", None),
        (key, f"{rate}/s daemon CPU s / 1000 events", spread("daemon_cpu_s_per_1000"), "", None),
        (key, f"{rate}/s PostgreSQL CPU s / 1000 events", spread("postgres_cpu_s_per_1000"), "", None),
    ]
