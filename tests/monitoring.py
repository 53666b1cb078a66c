"""The shipped monitoring files (monitoring/): their PromQL expressions and the metric names they use,
and the names the daemon exports, so tests can require that the two agree.

PromQL is not parsed in full: label matchers, strings, ranges, label lists and Grafana variables are
removed, and what is left that looks like a name and is not a function, keyword or number is a metric.
`promtool check rules` (tests/unit/test_monitoring_files.py) checks that the expressions are valid.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

MONITORING = Path(__file__).resolve().parents[1] / "monitoring"
RULES = MONITORING / "prometheus" / "stocksync-alerts.yml"
RULE_TESTS = MONITORING / "prometheus" / "tests"
DASHBOARD = MONITORING / "grafana" / "stocksync-dashboard.json"
PROVISIONING = MONITORING / "grafana" / "provisioning"

# Series Prometheus itself makes for every target; not the daemon's to export.
PROMETHEUS_SERIES = frozenset({"up"})

# Grafana's variables, replaced by something PromQL accepts before an expression is checked.
GRAFANA_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "job": "stocksync"}

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset"}
    | {"bool", "inf", "nan", "atan2"}
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'|`[^`]*`")
_MODIFIER_LABELS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.*?)\s*(?:,\s*\w+\s*)?\)\s*$", re.DOTALL)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _MODIFIER_LABELS.sub("", text)
    names = set()
    for match in _NAME.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or match.group().lower() in _KEYWORDS:
            continue  # a function call, an operator or a modifier
        names.add(match.group())
    return names


def with_variables(expr: str, values: dict[str, str] | None = None) -> str:
    """A Grafana expression with its variables replaced (`$store` by `.*` unless given)."""
    known = GRAFANA_VARIABLES | (values or {})
    return _VARIABLE.sub(lambda m: known.get(next(g for g in m.groups() if g), ".*"), expr)


def rule_expressions() -> list[tuple[str, str]]:
    document = yaml.safe_load(RULES.read_text())
    return [
        (rule.get("alert") or rule["record"], rule["expr"])
        for group in document["groups"]
        for rule in group["rules"]
    ]


def panels(dashboard: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    dashboard = dashboard if dashboard is not None else load_dashboard()
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def load_dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def dashboard_expressions(dashboard: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable, variables replaced."""
    dashboard = dashboard if dashboard is not None else load_dashboard()
    found = [
        (f"panel {panel['title']!r} target {target.get('refId')}", with_variables(target["expr"]))
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        selector = _LABEL_VALUES.match(text)
        found.append(
            (f"variable {variable['name']}", with_variables(selector.group(1) if selector else text))
        )
    return found


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
}


def registry_names(registry: CollectorRegistry) -> set[str]:
    """Every series name the registry can export, labelled children or not."""
    return {
        family.name + suffix for family in registry.collect() for suffix in _SUFFIXES.get(family.type, ("",))
    }


def scraped_names(text: str) -> tuple[set[str], set[str]]:
    """(declared, sampled): names a /metrics text declares with # TYPE (suffixes by type), names it has
    samples for."""
    declared: set[str] = set()
    sampled: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            base = name.removesuffix("_total") if kind == "counter" else name
            declared.update(base + suffix for suffix in _SUFFIXES.get(kind, ("",)))
        elif line and not line.startswith("#"):
            sampled.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return declared, sampled
