"""Build the aiohttp Application: routes, the error middleware, the body limit and the services key."""

from __future__ import annotations

from aiohttp import web

from daemon.web import admin, drift_page, health, metrics, sources, webhooks
from daemon.web.context import LOGIN_THROTTLE, MAX_BODY, SERVICES, Services
from daemon.web.errors import json_errors
from daemon.web.login_throttle import LoginThrottle
from daemon.web.server import HTTP_LIMITS, body_deadline


def build_app(services: Services) -> web.Application:
    max_body = services.config.http.max_body_bytes
    app = web.Application(middlewares=[json_errors, body_deadline], client_max_size=max_body)
    app[SERVICES] = services
    app[HTTP_LIMITS] = services.config.http
    app[LOGIN_THROTTLE] = LoginThrottle()
    app[MAX_BODY] = max_body
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", metrics.metrics_handler)
    app.router.add_post("/v1/stock-events", webhooks.stock_events)
    app.router.add_post("/v1/catalog-updated", webhooks.catalog_updated)
    app.router.add_post("/v1/stores/{store_id}/webhook", webhooks.store_webhook)
    app.router.add_post("/v1/stores/{store_id}/sync", admin.sync_now)
    app.router.add_get("/v1/drift", admin.drift_json)
    app.router.add_post("/v1/sources/{source_id}/pull", sources.pull)
    app.router.add_post("/v1/sources/{source_id}/callback", sources.callback)
    drift_page.add_routes(app)
    return app
