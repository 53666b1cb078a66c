"""The shipped alert rules, their promtool tests and the Grafana dashboard under monitoring/: valid,
tested (a changed threshold fails its promtool test), and using only metrics the daemon exports.
promtool cases skip with the reason when the Debian package `prometheus` is absent."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from daemon.metrics import REGISTRY
from tests.monitoring import (
    DASHBOARD,
    MONITORING,
    PROMETHEUS_SERIES,
    PROVISIONING,
    RULE_TESTS,
    RULES,
    dashboard_expressions,
    load_dashboard,
    metric_names,
    panels,
    registry_names,
    rule_expressions,
    with_variables,
)

README = MONITORING.parent / "README.md"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package 'prometheus'; .ci/run installs it)"
)
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def alerts() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


# --- the rules ------------------------------------------------------------------------------------


@needs_promtool
def test_the_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_rules_pass_their_promtool_tests() -> None:
    tests = sorted(RULE_TESTS.glob("*.yml"))
    assert tests
    result = promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr


# Each alert's threshold (or duration, or matcher) changed in a copy: its promtool test must fail.
SABOTAGE = {
    "StocksyncStoreStale": ("expr", "2.5 *", "3.5 *"),
    "StocksyncStoreNeverSynced": ("expr", "2.5 *", "3.5 *"),
    "StocksyncGuardHeld": ("expr", "== 1", "== 2"),
    "StocksyncSourceStale": ("for", "10m", "20m"),
    "StocksyncCircuitOpen": ("for", "15m", "30m"),
    "StocksyncQueueStuck": ("expr", "> 600", "> 1200"),
    "StocksyncContestedVariants": ("expr", "offset 1h", "offset 5m"),
    "StocksyncEventToWriteSlow": ("expr", "> 2.5", "> 5"),
    "StocksyncDatabaseDown": ("expr", "== 0", "== 1"),
    "StocksyncTargetDown": ("for", "2m", "10m"),
    "StocksyncTargetMissing": ("expr", 'job="stocksync"', 'job="stocksync-other"'),
}


def test_every_alert_has_a_sabotage_case() -> None:
    assert sorted(SABOTAGE) == sorted(rule["alert"] for rule in alerts())


@needs_promtool
@pytest.mark.parametrize("alert", sorted(SABOTAGE))
def test_a_changed_threshold_fails_the_promtool_tests(alert: str, tmp_path: Path) -> None:
    field, old, new = SABOTAGE[alert]
    document = yaml.safe_load(RULES.read_text())
    (rule,) = [r for g in document["groups"] for r in g["rules"] if r.get("alert") == alert]
    assert str(rule[field]).count(old) == 1, (alert, rule[field])
    rule[field] = str(rule[field]).replace(old, new)
    copy = tmp_path / "prometheus"
    shutil.copytree(RULES.parent, copy)
    (copy / RULES.name).write_text(yaml.safe_dump(document, sort_keys=False))
    assert promtool("check", "rules", copy / RULES.name).returncode == 0  # still valid, only different
    result = promtool("test", "rules", *sorted((copy / "tests").glob("*.yml")))
    assert result.returncode != 0, f"{alert}: {old!r} -> {new!r} went unnoticed"
    assert f"alertname: {alert}," in result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases: dict[str, set[bool]] = {}
    for path in RULE_TESTS.glob("*.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
    for rule in alerts():
        assert cases.get(rule["alert"]) == {True, False}, rule["alert"]


def test_every_alert_has_a_severity_annotations_and_a_runbook_line() -> None:
    readme = README.read_text()
    section = readme[readme.index("### Alerts and dashboard") :]
    section = section[: section.index("\n## ")]
    for rule in alerts():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        assert annotations["runbook"].endswith(f": {name}"), name
        # the per-store and per-platform rules name their store or platform
        labels = {m for m in ("store_id", "platform") if f"by ({m}" in rule["expr"]}
        for label in labels:
            assert "{{ $labels." + label + " }}" in annotations["summary"], (name, label)
        assert re.search(rf"^\| `{name}` \|", section, re.MULTILINE), f"README runbook line for {name}"


def test_the_job_name_the_rules_expect_is_the_one_the_readme_configures() -> None:
    jobs = set(re.findall(r'job="([^"]+)"', RULES.read_text()))
    assert jobs == {"stocksync"}
    assert "job_name: stocksync" in README.read_text()


# --- metric names ---------------------------------------------------------------------------------


def test_the_name_extraction_sees_metrics_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (platform, le) (rate(a_bucket{job=~"$job", le!="x"}[5m])))'
        ' > 2.5 and on (store_id) group_left () b offset 1h or absent(up{job="s"}) unless c_total'
    )
    assert metric_names(with_variables(expr)) == {"a_bucket", "b", "up", "c_total"}
    assert metric_names("time() - max by (store_id) (x > 0) > 1e3 * 2") == {"x"}
    assert with_variables('rate(x{s=~"$store"}[$__rate_interval])') == 'rate(x{s=~".*"}[5m])'


def test_every_metric_the_rules_use_is_exported() -> None:
    exported = registry_names(REGISTRY) | PROMETHEUS_SERIES
    used = {name: where for where, expr in rule_expressions() for name in metric_names(expr)}
    assert used
    assert {n: w for n, w in used.items() if n not in exported} == {}


def test_every_metric_the_dashboard_uses_is_exported() -> None:
    exported = registry_names(REGISTRY) | PROMETHEUS_SERIES
    used = {name: where for where, expr in dashboard_expressions() for name in metric_names(expr)}
    assert len(used) >= 15
    assert {n: w for n, w in used.items() if n not in exported} == {}


def test_a_dashboard_panel_naming_a_missing_metric_is_caught() -> None:
    dashboard = load_dashboard()
    panels(dashboard)[1]["targets"][0]["expr"] = "sum(stocksync_no_such_metric_total)"
    exported = registry_names(REGISTRY) | PROMETHEUS_SERIES
    used = {name for _, expr in dashboard_expressions(dashboard) for name in metric_names(expr)}
    assert used - exported == {"stocksync_no_such_metric_total"}


@needs_promtool
def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    # promtool has no expression checker of its own: each expression becomes a recording rule
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expression_{i}", "expr": expr}
                    for i, (_, expr) in enumerate(dashboard_expressions())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-expressions.yml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the dashboard --------------------------------------------------------------------------------


def test_the_dashboard_is_provisionable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard["uid"]) and dashboard["title"]
    assert dashboard.get("id") is None  # Grafana assigns ids to provisioned dashboards
    assert "__inputs" not in dashboard and "${DS_" not in DASHBOARD.read_text()  # import-only syntax
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE and target["expr"].strip(), panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


def test_no_datasource_is_named_anywhere_but_through_the_variable() -> None:
    def walk(node: Any) -> list[Any]:
        if isinstance(node, dict):
            found = [node["datasource"]] if "datasource" in node else []
            return found + [x for value in node.values() for x in walk(value)]
        if isinstance(node, list):
            return [x for value in node for x in walk(value)]
        return []

    references = walk(load_dashboard())
    assert references and all(ref == DATASOURCE for ref in references)


def test_the_provisioning_example_loads_dashboards_from_files() -> None:
    (path,) = (PROVISIONING / "dashboards").glob("*.yml")
    document = yaml.safe_load(path.read_text())
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
