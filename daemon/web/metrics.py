"""GET /metrics: the registry of daemon/metrics.py, with the database-backed gauges refreshed first."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from daemon.metrics import REGISTRY, refresh_from_database
from daemon.web.context import SERVICES


async def metrics_handler(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await refresh_from_database(services.pool, services.config.sources.stale_after_intervals)
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
