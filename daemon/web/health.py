"""/healthz (the process and its event loop answer) and /readyz (safe to send work: every check named)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from daemon.credentials import ADMIN_TOKEN
from daemon.db import migrate
from daemon.db.pool import DATABASE_UNAVAILABLE
from daemon.errors import CredentialError
from daemon.web.context import SERVICES, Services


def _admin_token(services: Services) -> str:
    """The drift pages are always served; without a usable token every sign-in would be refused."""
    try:
        services.credentials.load(ADMIN_TOKEN)
    except CredentialError as exc:
        return str(exc)
    return "ok"


async def healthz(request: web.Request) -> web.Response:
    liveness = request.app[SERVICES].liveness
    return web.json_response({"status": "alive", "loop_lag_s": round(liveness.loop_lag_s, 4)})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2.0):
            async with services.pool.acquire() as conn:
                status = await migrate.status(conn)
        checks["database"] = "ok"
        checks["migrations"] = "ok" if status.current else status.problem()
    except DATABASE_UNAVAILABLE as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["migrations"] = "unknown"
    checks["scheduler"] = "ok" if services.liveness.scheduler_running else "not running"
    checks["admin_token"] = _admin_token(services)
    checks["draining"] = "no" if not services.liveness.draining else "yes: shutting down"
    ready = (
        all(checks[k] == "ok" for k in ("database", "migrations", "scheduler", "admin_token"))
        and checks["draining"] == "no"
    )
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)
