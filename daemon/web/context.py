"""What request handlers may reach: typed application keys, set once by the runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.engine import Engine
from daemon.web.login_throttle import LoginThrottle
from sources.factory import SourceFactory


@dataclass
class Liveness:
    """Flags the runtime flips; readiness reads them."""

    draining: bool = False
    scheduler_running: bool = False
    loop_lag_s: float = 0.0
    started: bool = False
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Services:
    config: Config
    pool: Pool
    engine: Engine
    credentials: CredentialStore
    liveness: Liveness
    sources: SourceFactory | None = None  # readers for source callbacks
    pull_soon: Callable[[], None] = lambda: None  # a pull was requested: the scheduler looks now


SERVICES = web.AppKey("services", Services)
MAX_BODY = web.AppKey("max_body", int)
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
