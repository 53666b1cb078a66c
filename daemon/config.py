"""Configuration: a TOML file plus STOCKSYNC_<SECTION>__<KEY> environment overrides, validated at start.

Search order: --config PATH, ./stocksync.toml, /etc/stocksync/stocksync.toml, built-in defaults.
Unknown keys and bad values stop start-up with a ConfigError naming `section.key` and the reason.
Secrets are never configuration values: only credential *names* and directories appear here.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from daemon.alerts import ALERT_KINDS
from daemon.errors import ConfigError

DEFAULT_PATHS = (Path("stocksync.toml"), Path("/etc/stocksync/stocksync.toml"))
ENV_PREFIX = "STOCKSYNC_"


@dataclass(frozen=True)
class DatabaseConfig:
    dsn: str = ""  # empty: start the embedded PostgreSQL under data_dir
    data_dir: str = "var/pgdata"
    pool_min: int = 1
    pool_max: int = 10
    statement_timeout_s: float = 30.0


@dataclass(frozen=True)
class HttpConfig:
    listen: str = "127.0.0.1:8787"
    max_body_bytes: int = 1_048_576
    client_timeout_s: float = 30.0
    request_timeout_s: float = 10.0  # an event request the database cannot serve by then: 503, not stored
    # A client holds a file descriptor for as long as its connection lives: bound how long it may take
    # to send its request line and headers, then its body, how long an idle keep-alive connection
    # stays, and how many connections are open at once (the rest are closed on accept).
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    idle_timeout_s: float = 60.0
    max_connections: int = 1000
    # Set true only behind a reverse proxy that terminates HTTPS and sets X-Forwarded-Proto: the
    # session cookie is then marked Secure when that header says https.
    trust_forwarded_proto: bool = False


@dataclass(frozen=True)
class SyncConfig:
    """Scheduling of passes and store workers."""

    workers: int = 8
    observe_chunk: int = 2000
    full_pass_interval_s: int = 4 * 3600
    jitter_share: float = 0.10
    grace_period_s: float = 20.0
    poll_interval_s: float = 2.0  # fallback when a LISTEN notification is missed
    # while a full pass runs, how often its store's newly queued variant items are looked for (they run
    # beside the pass instead of waiting behind it)
    express_poll_s: float = 0.2
    scheduler_tick_s: float = 15.0  # how often due periodic passes are looked for
    # how long a store stays marked "in a pass" if its holder dies without clearing the mark; the store
    # itself is held by a PostgreSQL session lock (daemon/db/leases.py), not by this mark
    in_pass_mark_ttl_s: float = 60.0


@dataclass(frozen=True)
class DriftConfig:
    """What happens when a store is edited by hand."""

    contested_after: int = 5  # repeated drifts before a variant is marked contested
    overwrite_backoff_s: float = 60.0  # first back-off after a repeated drift; doubles each time


@dataclass(frozen=True)
class GuardConfig:
    """The mass-unavailable guard."""

    max_unavailable_share: float = 0.30


@dataclass(frozen=True)
class RetriesConfig:
    """The retry layers above the per-request one, each named for its layer."""

    in_pass_attempts: int = 3  # tries of a temporarily failing item within one pass
    in_pass_backoff_s: float = 0.5  # first wait between them; doubles
    queued_attempts: int = 8  # tries of a queued work item before it is marked failed
    queued_backoff_s: float = 5.0  # first wait before a failed work item is taken again; doubles
    circuit_open_after: int = 3  # consecutive failed batches before a store's circuit opens
    circuit_backoff_s: float = 30.0  # first time the circuit stays open; doubles


@dataclass(frozen=True)
class RetentionConfig:
    """How long finished work items are kept before they are pruned."""

    done_items_s: float = 3600.0
    failed_items_s: float = 7 * 86400.0  # also how long webhook delivery ids are remembered
    # accepted upstream events: a duplicate delivered later than this is no longer recognised
    inbox_events_s: float = 14 * 86400.0


@dataclass(frozen=True)
class SourcesConfig:
    """Upstream source pulls (each source's own interval is in its `sources` import row)."""

    stale_after_intervals: int = 3  # no successful pull for this many intervals: the source is stale
    pull_lease_s: float = 900.0  # how long one replica holds a source while pulling it
    pulls_per_tick: int = 4  # sources one replica pulls per scheduler tick, one after another


# Keys of earlier versions, refused with the key that replaced them (silently ignoring one would run
# with a default the user did not choose).
RENAMED: dict[str, str] = {
    "sync.guard_max_unavailable_share": "guard.max_unavailable_share",
    "sync.contested_after": "drift.contested_after",
    "sync.overwrite_backoff_s": "drift.overwrite_backoff_s",
    "sync.max_item_attempts": "retries.in_pass_attempts",
    "sync.item_retry_base_s": "retries.in_pass_backoff_s",
    "sync.item_max_attempts": "retries.queued_attempts",
    "sync.item_backoff_s": "retries.queued_backoff_s",
    "sync.circuit_open_after": "retries.circuit_open_after",
    "sync.circuit_base_s": "retries.circuit_backoff_s",
    "sync.lease_ttl_s": "sync.in_pass_mark_ttl_s",
    "sync.done_retention_s": "retention.done_items_s",
    "sync.failed_retention_s": "retention.failed_items_s",
}


@dataclass(frozen=True)
class CredentialsConfig:
    directory: str = ""  # fallback when $CREDENTIALS_DIRECTORY is unset


@dataclass(frozen=True)
class NotifyWebhookConfig:
    """`[notify.webhook]`: a signed JSON POST (or a chat tool's incoming webhook) per notification."""

    url: str = ""  # empty: no webhook
    format: str = "json"  # json (signed body) | slack ({"text": ...}, for chat tools' incoming webhooks)
    secret_credential: str = "stocksync-notify-secret"  # HMAC key's credential name; required for json
    kinds: tuple[str, ...] = ALERT_KINDS


@dataclass(frozen=True)
class NotifyEmailConfig:
    """`[notify.email]`: a plain-text mail per notification through an SMTP server."""

    host: str = ""  # empty: no e-mail
    port: int = 587
    tls: str = "starttls"  # starttls | tls (implicit, usually port 465) | none
    username: str = ""  # empty: no SMTP login
    password_credential: str = "stocksync-smtp-password"
    from_address: str = ""
    to: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ALERT_KINDS


@dataclass(frozen=True)
class NotifyConfig:
    """Outbound notifications of active alerts (daemon/notify.py); off unless a channel is configured."""

    tick_s: float = 30.0  # how often alerts are evaluated (one replica at a time)
    reminder_s: float = 4 * 3600.0  # a still-firing alert is sent again after this; 0: never
    max_per_hour: int = 20  # per channel; the excess goes out as one summary
    failing_after_s: float = 900.0  # store_failing: passes failing for longer than this
    stale_after_intervals: float = 3.0  # store_stale: no successful full pass for this many intervals
    public_url: str = ""  # where people reach the drift page (links in notifications); empty: no link
    timeout_s: float = 10.0  # one delivery attempt
    attempts: int = 5  # deliveries retried on 5xx, timeouts and connection errors
    backoff_s: float = 2.0  # first wait between attempts; doubles, jittered
    queue_size: int = 100  # notifications waiting per channel; more are sent in a later cycle
    webhook: NotifyWebhookConfig = field(default_factory=NotifyWebhookConfig)
    email: NotifyEmailConfig = field(default_factory=NotifyEmailConfig)


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"
    format: str = "auto"  # auto (JSON unless stdout is a TTY) | json | console


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    retries: RetriesConfig = field(default_factory=RetriesConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    credentials: CredentialsConfig = field(default_factory=CredentialsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    source: str = "defaults"  # where the file came from, for `config check`


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, merge and validate the configuration."""
    env = os.environ if environ is None else environ
    raw, source = _read_file(path)
    _apply_env(raw, env)
    return config_from_tables(raw, source)


def config_from_tables(raw: Mapping[str, Any], source: str = "defaults") -> Config:
    """Validate section tables (as read from TOML) into a Config; what load_config does after reading."""
    sections: dict[str, Any] = {}
    hints = get_type_hints(Config)
    for name, value in raw.items():
        if name not in hints or name == "source":
            raise ConfigError(name, f"unknown section (known: {', '.join(_section_names())})")
        if not isinstance(value, dict):
            raise ConfigError(name, "must be a table")
        sections[name] = _build_section(name, hints[name], value)
    config = Config(**sections, source=source)
    _validate(config)
    return config


def _section_names() -> list[str]:
    return [f.name for f in fields(Config) if f.name != "source"]


def _read_file(path: str | None) -> tuple[dict[str, Any], str]:
    candidates = [Path(path)] if path else list(DEFAULT_PATHS)
    for candidate in candidates:
        if not candidate.exists():
            if path:
                raise ConfigError("--config", f"file {candidate} does not exist")
            continue
        try:
            with candidate.open("rb") as handle:
                return tomllib.load(handle), str(candidate)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(candidate), f"not valid TOML: {exc}") from None
    return {}, "defaults"


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        # STOCKSYNC_NOTIFY__WEBHOOK__URL: a sub-table's key (`notify.webhook.url`)
        *tables, key = name[len(ENV_PREFIX) :].lower().split("__")
        target = raw
        for table in tables:
            nested = target.setdefault(table, {})
            if not isinstance(nested, dict):
                raise ConfigError(name, f"{table} is a value, not a table")
            target = nested
        target[key] = _EnvValue(value, name)


@dataclass(frozen=True)
class _EnvValue:
    """A string from the environment, converted to the field's type later (and named in errors)."""

    text: str
    variable: str


def _build_section(section: str, cls: Any, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{section}.{key}"
        if dotted in RENAMED:
            where = f"{dotted} (from {value.variable})" if isinstance(value, _EnvValue) else dotted
            raise ConfigError(where, f"renamed: use {RENAMED[dotted]}")
        if key not in known:
            raise ConfigError(dotted, f"unknown key (known: {', '.join(known)})")
        if dataclasses.is_dataclass(hints[key]):  # a sub-table such as [notify.webhook]
            if not isinstance(value, dict):
                raise ConfigError(dotted, "must be a table")
            kwargs[key] = _build_section(dotted, hints[key], value)
            continue
        kwargs[key] = _coerce(dotted, hints[key], value)
    return cls(**kwargs)


def _coerce(key: str, target: Any, value: Any) -> Any:
    if get_origin(target) is tuple:  # a list of strings; from the environment: comma-separated
        if isinstance(value, _EnvValue):
            return tuple(part.strip() for part in value.text.split(",") if part.strip())
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(key, f"expected a list of strings, got {value!r}")
        return tuple(value)
    if get_origin(target) in (Union, types.UnionType):
        target = next(arg for arg in get_args(target) if arg is not type(None))
    if isinstance(value, _EnvValue):
        return _from_text(f"{key} (from {value.variable})", target, value.text)
    if target is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, target) or (target is int and isinstance(value, bool)):
        raise ConfigError(key, f"expected {target.__name__}, got {type(value).__name__} {value!r}")
    return value


def _from_text(key: str, target: Any, text: str) -> Any:
    if target is str:
        return text
    if target is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(key, f"expected a boolean, got {text!r}")
    try:
        return target(text)
    except ValueError:
        raise ConfigError(key, f"expected {target.__name__}, got {text!r}") from None


def _validate(config: Config) -> None:
    checks: list[tuple[str, bool, str]] = [
        ("database.pool_min", config.database.pool_min >= 1, "must be at least 1"),
        ("database.pool_max", config.database.pool_max >= config.database.pool_min, "must be >= pool_min"),
        ("database.statement_timeout_s", config.database.statement_timeout_s > 0, "must be positive"),
        ("http.max_body_bytes", config.http.max_body_bytes >= 1024, "must be at least 1024"),
        ("http.client_timeout_s", config.http.client_timeout_s > 0, "must be positive"),
        (
            "http.request_timeout_s",
            0.5 <= config.http.request_timeout_s <= 300,
            "must be between 0.5 and 300",
        ),
        ("http.header_timeout_s", 0 < config.http.header_timeout_s <= 600, "must be in (0, 600]"),
        ("http.body_timeout_s", 0 < config.http.body_timeout_s <= 3600, "must be in (0, 3600]"),
        ("http.idle_timeout_s", 0 < config.http.idle_timeout_s <= 3600, "must be in (0, 3600]"),
        ("http.max_connections", 1 <= config.http.max_connections <= 100_000, "must be between 1 and 100000"),
        ("sync.full_pass_interval_s", config.sync.full_pass_interval_s >= 60, "must be at least 60"),
        ("sync.jitter_share", 0.0 <= config.sync.jitter_share < 1.0, "must be in [0, 1)"),
        ("sync.workers", 1 <= config.sync.workers <= 256, "must be between 1 and 256"),
        ("sync.grace_period_s", config.sync.grace_period_s >= 0, "must not be negative"),
        ("sync.observe_chunk", 1 <= config.sync.observe_chunk <= 100_000, "must be between 1 and 100000"),
        ("sync.in_pass_mark_ttl_s", config.sync.in_pass_mark_ttl_s >= 2, "must be at least 2"),
        ("sync.poll_interval_s", 0.05 <= config.sync.poll_interval_s <= 60, "must be between 0.05 and 60"),
        ("sync.express_poll_s", 0.02 <= config.sync.express_poll_s <= 10, "must be between 0.02 and 10"),
        (
            "sync.scheduler_tick_s",
            0.1 <= config.sync.scheduler_tick_s <= 3600,
            "must be between 0.1 and 3600",
        ),
        ("drift.contested_after", config.drift.contested_after >= 2, "must be at least 2"),
        ("drift.overwrite_backoff_s", config.drift.overwrite_backoff_s >= 0, "must not be negative"),
        (
            "guard.max_unavailable_share",
            0.0 < config.guard.max_unavailable_share <= 1.0,
            "must be in (0, 1]",
        ),
        ("retries.in_pass_attempts", config.retries.in_pass_attempts >= 1, "must be at least 1"),
        ("retries.in_pass_backoff_s", config.retries.in_pass_backoff_s >= 0, "must not be negative"),
        ("retries.queued_attempts", config.retries.queued_attempts >= 1, "must be at least 1"),
        ("retries.queued_backoff_s", config.retries.queued_backoff_s >= 0, "must not be negative"),
        ("retries.circuit_open_after", config.retries.circuit_open_after >= 1, "must be at least 1"),
        ("retries.circuit_backoff_s", config.retries.circuit_backoff_s >= 0, "must not be negative"),
        ("retention.done_items_s", config.retention.done_items_s >= 0, "must not be negative"),
        ("retention.failed_items_s", config.retention.failed_items_s >= 0, "must not be negative"),
        ("retention.inbox_events_s", config.retention.inbox_events_s >= 3600, "must be at least 3600"),
        ("sources.stale_after_intervals", config.sources.stale_after_intervals >= 1, "must be at least 1"),
        ("sources.pull_lease_s", config.sources.pull_lease_s >= 60, "must be at least 60"),
        ("sources.pulls_per_tick", 1 <= config.sources.pulls_per_tick <= 100, "must be between 1 and 100"),
        (
            "logging.level",
            config.logging.level in ("debug", "info", "warning", "error"),
            "debug|info|warning|error",
        ),
        ("logging.format", config.logging.format in ("auto", "json", "console"), "auto|json|console"),
    ]
    for key, ok, reason in checks + _notify_checks(config.notify):
        if not ok:
            raise ConfigError(key, reason)
    _validate_listen(config.http.listen)


_EMAIL = re.compile(r"^[^@\s<>,;\\\"]+@[^@\s<>,;\\\"]+$")  # one bare address; no header tricks
_HTTP_URL = re.compile(r"^https?://[^/\s?#]+(/\S*)?$")
_CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


def _notify_checks(n: NotifyConfig) -> list[tuple[str, bool, str]]:
    hook, mail = n.webhook, n.email
    checks = [
        ("notify.tick_s", 0.1 <= n.tick_s <= 3600, "must be between 0.1 and 3600"),
        ("notify.reminder_s", n.reminder_s == 0 or n.reminder_s >= 60, "must be 0 (never) or at least 60"),
        ("notify.max_per_hour", 1 <= n.max_per_hour <= 10_000, "must be between 1 and 10000"),
        ("notify.failing_after_s", n.failing_after_s >= 0, "must not be negative"),
        ("notify.stale_after_intervals", n.stale_after_intervals >= 1, "must be at least 1"),
        (
            "notify.public_url",
            not n.public_url or bool(_HTTP_URL.match(n.public_url)),
            "http(s)://HOST[/PATH]",
        ),
        ("notify.timeout_s", 0 < n.timeout_s <= 300, "must be in (0, 300]"),
        ("notify.attempts", 1 <= n.attempts <= 20, "must be between 1 and 20"),
        ("notify.backoff_s", 0 <= n.backoff_s <= 600, "must be between 0 and 600"),
        ("notify.queue_size", 1 <= n.queue_size <= 100_000, "must be between 1 and 100000"),
        ("notify.webhook.url", not hook.url or bool(_HTTP_URL.match(hook.url)), "http(s)://HOST[/PATH]"),
        ("notify.webhook.format", hook.format in ("json", "slack"), "json|slack"),
        (
            "notify.webhook.secret_credential",
            bool(_CREDENTIAL_NAME.match(hook.secret_credential)),
            "a file name",
        ),
        ("notify.email.port", 1 <= mail.port <= 65535, "must be between 1 and 65535"),
        ("notify.email.tls", mail.tls in ("starttls", "tls", "none"), "starttls|tls|none"),
        (
            "notify.email.password_credential",
            bool(_CREDENTIAL_NAME.match(mail.password_credential)),
            "a file name",
        ),
        (
            "notify.email.host",
            not mail.host or (mail.host.strip() == mail.host and "\n" not in mail.host),
            "a host name",
        ),
        (
            "notify.email.from_address",
            bool(_EMAIL.match(mail.from_address)) if mail.host or mail.from_address else True,
            "one address such as stocksync@example.com (required with notify.email.host)",
        ),
        (
            "notify.email.to",
            (bool(mail.to) or not mail.host) and all(_EMAIL.match(a) for a in mail.to),
            'a list of addresses such as ["support@example.com"] (required with notify.email.host)',
        ),
    ]
    for table, kinds in (("webhook", hook.kinds), ("email", mail.kinds)):
        unknown = [k for k in kinds if k not in ALERT_KINDS]
        checks.append(
            (
                f"notify.{table}.kinds",
                not unknown,
                f"unknown kind {unknown[:1]} (known: {', '.join(ALERT_KINDS)})",
            )
        )
    return checks


def _validate_listen(listen: str) -> None:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("http.listen", f"expected HOST:PORT, got {listen!r}")


def listen_address(config: Config) -> tuple[str, int]:
    host, _, port = config.http.listen.rpartition(":")
    return host.strip("[]"), int(port)


# The three places libpq takes a password: URL userinfo (greedy to the last '@', a password may hold one),
# a `password=` URL query parameter, and a `password=value` pair (quoted values may hold blanks).
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)\S*@", re.I)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#\s]*", re.I)
_PAIR_PASSWORD = re.compile(r"(\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s']\S*)", re.I)


def masked_dsn(text: str) -> str:
    """The DSN (or any text holding one) with every password replaced by ***, for printing."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _QUERY_PASSWORD.sub(r"\1***", text)
    return _PAIR_PASSWORD.sub(r"\1***", text)


def url_host(url: str) -> str:
    """host[:port] of a URL, without user info: what messages may say about a webhook's address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"[{host}]:{port}" if port and ":" in host else f"{host}:{port}" if port else host


def masked_url(url: str) -> str:
    """A webhook URL without user info, path and query: a chat tool's incoming-webhook URL carries its
    token in the path (https://hooks.example.com/services/T0/B0/<token>)."""
    if not url:
        return url
    parts = urlsplit(url)
    hidden = parts.path.strip("/") or parts.query or parts.username
    return f"{parts.scheme}://{url_host(url)}" + ("/***" if hidden else "")


def effective(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data, with the DSN's password and the webhook's path masked."""
    data = dataclasses.asdict(config)
    data["database"]["dsn"] = masked_dsn(config.database.dsn)
    data["notify"]["webhook"]["url"] = masked_url(config.notify.webhook.url)
    return data
