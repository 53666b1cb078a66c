"""Configuration groups: every key lives in the section named for what it holds; old keys are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.config import RENAMED, Config, load_config
from daemon.errors import ConfigError


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "stocksync.toml"
    path.write_text(text)
    return str(path)


def test_new_keys_are_read_from_their_sections(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[sync]
in_pass_mark_ttl_s = 90
[drift]
contested_after = 4
[guard]
max_unavailable_share = 0.5
[retries]
in_pass_attempts = 2
queued_attempts = 9
circuit_backoff_s = 12
[retention]
failed_items_s = 100
""",
    )
    config = load_config(path, environ={"STOCKSYNC_RETRIES__QUEUED_BACKOFF_S": "7"})
    assert config.sync.in_pass_mark_ttl_s == 90.0
    assert config.drift.contested_after == 4
    assert config.guard.max_unavailable_share == 0.5
    assert config.retries.in_pass_attempts == 2
    assert config.retries.queued_attempts == 9
    assert config.retries.queued_backoff_s == 7.0
    assert config.retries.circuit_backoff_s == 12.0
    assert config.retention.failed_items_s == 100.0


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_old_key_in_the_file_is_refused_naming_the_new_one(tmp_path: Path, old: str) -> None:
    section, key = old.split(".")
    path = _write(tmp_path, f"[{section}]\n{key} = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.key == old
    assert caught.value.reason == f"renamed: use {RENAMED[old]}"


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_old_key_in_the_environment_is_refused_naming_the_new_one(tmp_path: Path, old: str) -> None:
    section, key = old.split(".")
    variable = f"STOCKSYNC_{section.upper()}__{key.upper()}"
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, ""), environ={variable: "3"})
    assert str(caught.value) == f"config: {old} (from {variable}): renamed: use {RENAMED[old]}"


def test_every_new_name_exists_with_the_old_default() -> None:
    """A rename only: each replacement is a real key, and the shipped defaults did not move."""
    defaults = Config()
    old_defaults = {
        "sync.guard_max_unavailable_share": 0.30,
        "sync.contested_after": 5,
        "sync.overwrite_backoff_s": 60.0,
        "sync.max_item_attempts": 3,
        "sync.item_retry_base_s": 0.5,
        "sync.item_max_attempts": 8,
        "sync.item_backoff_s": 5.0,
        "sync.circuit_open_after": 3,
        "sync.circuit_base_s": 30.0,
        "sync.lease_ttl_s": 60.0,
        "sync.done_retention_s": 3600.0,
        "sync.failed_retention_s": 7 * 86400.0,
    }
    assert set(old_defaults) == set(RENAMED)
    for old, value in old_defaults.items():
        section, key = RENAMED[old].split(".")
        assert getattr(getattr(defaults, section), key) == value, old


def test_the_shipped_example_file_loads_and_shows_the_defaults() -> None:
    example = Path(__file__).parents[2] / "systemd" / "stocksync.toml.example"
    config = load_config(str(example), environ={})
    defaults = Config()
    for group in ("sync", "drift", "guard", "retries", "retention"):
        assert getattr(config, group) == getattr(defaults, group), group
