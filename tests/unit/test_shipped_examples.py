"""What ships as an example is what the code takes: every config key in the TOML example, no live
credential line for a store that exists only in the examples."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any, get_type_hints

from daemon.config import Config, config_from_tables

ROOT = Path(__file__).resolve().parents[2]
TOML_EXAMPLE = ROOT / "systemd" / "stocksync.toml.example"
UNIT = ROOT / "systemd" / "stocksync.service"
# Values the example sets on purpose to something other than the default (a packaged install's path).
NOT_DEFAULT = {("database", "data_dir")}


def schema() -> dict[str, dict[str, Any]]:
    """Every section of the configuration and its keys with their defaults."""
    hints = get_type_hints(Config)
    return {
        section.name: {
            key.name: _as_toml(getattr(hints[section.name](), key.name))
            for key in dataclasses.fields(hints[section.name])
        }
        for section in dataclasses.fields(Config)
        if section.name != "source"
    }


def _as_toml(value: Any) -> Any:
    """A default as TOML reads it: a sub-table ([notify.webhook]) as a table, a tuple as a list."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _as_toml(v) for k, v in dataclasses.asdict(value).items()}
    return list(value) if isinstance(value, tuple) else value


def test_the_toml_example_lists_every_key_with_its_default() -> None:
    example = tomllib.loads(TOML_EXAMPLE.read_text())
    expected = schema()
    assert {s: sorted(keys) for s, keys in example.items()} == {
        s: sorted(keys) for s, keys in expected.items()
    }
    for section, keys in expected.items():
        for key, default in keys.items():
            if (section, key) not in NOT_DEFAULT:
                assert example[section][key] == default, f"{section}.{key}"
    config_from_tables(example)  # and the file is valid as shipped


def test_the_unit_loads_only_the_daemons_own_credentials() -> None:
    # found: a live LoadCredential= for the examples' us-shop-token made a fresh install fail to start
    live = re.findall(r"^LoadCredential=([^:\n]+):", UNIT.read_text(), flags=re.MULTILINE)
    assert live == ["admin-token", "webhook-secret"]
