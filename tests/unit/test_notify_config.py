"""[notify], [notify.webhook] and [notify.email]: validated like every section (the key is named)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.config import config_from_tables, effective, load_config
from daemon.credentials import CredentialStore
from daemon.errors import ConfigError
from daemon.notify import startup_problem
from daemon.runtime import run_daemon


def test_notifications_are_off_by_default() -> None:
    notify = load_config(None, environ={}).notify
    assert notify.webhook.url == "" and notify.email.host == ""


def test_sub_tables_and_lists_are_read() -> None:
    config = config_from_tables(
        {
            "notify": {
                "max_per_hour": 5,
                "webhook": {"url": "https://hooks.example.com/x", "format": "slack", "kinds": ["guard_held"]},
                "email": {
                    "host": "smtp.example.com",
                    "from_address": "s@example.com",
                    "to": ["a@example.com"],
                },
            }
        }
    )
    assert config.notify.max_per_hour == 5
    assert config.notify.webhook.kinds == ("guard_held",) and config.notify.webhook.format == "slack"
    assert config.notify.email.to == ("a@example.com",)


def test_environment_overrides_reach_sub_tables() -> None:
    config = load_config(
        None,
        environ={
            "STOCKSYNC_NOTIFY__WEBHOOK__URL": "http://127.0.0.1:9000/hook",
            "STOCKSYNC_NOTIFY__EMAIL__KINDS": "guard_held, store_stale",
        },
    )
    assert config.notify.webhook.url == "http://127.0.0.1:9000/hook"
    assert config.notify.email.kinds == ("guard_held", "store_stale")


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"notify": {"webhook": {"urll": "https://x.example.com"}}}, "notify.webhook.urll"),
        ({"notify": {"webhook": {"format": "xml"}}}, "notify.webhook.format"),
        ({"notify": {"webhook": {"url": "ftp://x.example.com"}}}, "notify.webhook.url"),
        ({"notify": {"webhook": {"kinds": ["guard_held", "everything"]}}}, "notify.webhook.kinds"),
        ({"notify": {"webhook": {"kinds": "guard_held"}}}, "notify.webhook.kinds"),
        ({"notify": {"webhook": "https://x.example.com"}}, "notify.webhook"),
        (
            {"notify": {"email": {"host": "smtp.example.com", "from_address": "s@example.com"}}},
            "notify.email.to",
        ),
        (
            {"notify": {"email": {"host": "smtp.example.com", "to": ["a@example.com"]}}},
            "notify.email.from_address",
        ),
        (
            {
                "notify": {
                    "email": {"host": "h", "from_address": "s@example.com", "to": ["a@b.c\r\nBcc: x@y.z"]}
                }
            },
            "notify.email.to",
        ),
        ({"notify": {"email": {"tls": "ssl3"}}}, "notify.email.tls"),
        ({"notify": {"max_per_hour": 0}}, "notify.max_per_hour"),
        ({"notify": {"reminder_s": 5}}, "notify.reminder_s"),
        ({"notify": {"public_url": "javascript:alert(1)"}}, "notify.public_url"),
    ],
)
def test_a_bad_value_names_its_key(tables: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_tables(tables)
    assert raised.value.key == key


def test_the_cli_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stocksync.toml"
    path.write_text('[notify.webhook]\nformat = "xml"\n')
    assert main(["--config", str(path), "config", "check"]) == 2
    assert "notify.webhook.format" in capsys.readouterr().err


def test_config_check_shows_a_webhook_url_without_its_path() -> None:
    config = config_from_tables(
        {
            "notify": {
                "webhook": {"url": "https://hooks.example.com/services/T01/B02/tokenpart", "format": "slack"}
            }
        }
    )
    shown = json.dumps(effective(config))
    assert '"url": "https://hooks.example.com/***"' in shown and "tokenpart" not in shown


@pytest.mark.parametrize(
    ("notify", "files", "key"),
    [
        ({"webhook": {"url": "https://h.example.com/x"}}, {}, "notify.webhook.secret_credential"),
        (
            {"webhook": {"url": "https://h.example.com/x"}},
            {"stocksync-notify-secret": "short"},
            "notify.webhook.secret_credential",
        ),
        (
            {
                "email": {
                    "host": "smtp.example.com",
                    "username": "u",
                    "from_address": "s@example.com",
                    "to": ["a@example.com"],
                }
            },
            {},
            "notify.email.password_credential",
        ),
    ],
)
async def test_the_daemon_refuses_to_start_with_a_channel_it_cannot_sign_or_log_in_for(
    tmp_path: Path, notify: dict[str, object], files: dict[str, str], key: str
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "admin-token").write_text("an-admin-token-of-some-length")
    for name, value in files.items():
        (credentials / name).write_text(value)
    config = config_from_tables({"notify": notify, "credentials": {"directory": str(credentials)}})
    with pytest.raises(ConfigError) as raised:
        await run_daemon(config)
    assert raised.value.key == key and "short" not in raised.value.reason.replace("shorter", "")


def test_a_slack_webhook_needs_no_key_and_nothing_configured_needs_nothing(tmp_path: Path) -> None:
    store = CredentialStore(str(tmp_path), environ={})
    slack = config_from_tables({"notify": {"webhook": {"url": "https://h.example.com/x", "format": "slack"}}})
    assert startup_problem(slack.notify, store) is None
    assert startup_problem(config_from_tables({}).notify, store) is None
