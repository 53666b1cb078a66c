"""Admin API (bearer token): run a pass now ("pull inventory"), list drift as JSON."""

from __future__ import annotations

import json

from aiohttp import web

from daemon.db import drift as drift_db
from daemon.db import work_queue
from daemon.db.stores import load_store
from daemon.web.auth import admin_refusal
from daemon.web.context import SERVICES


async def sync_now(request: web.Request) -> web.Response:
    if (refusal := admin_refusal(request)) is not None:
        return refusal
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        store = await load_store(conn, request.match_info["store_id"])
        queued = await work_queue.enqueue_full_pass(conn, store.id, "manual")
    return web.json_response(
        {"store_id": store.id, "queued": queued, "already_queued": not queued}, status=202
    )


async def drift_json(request: web.Request) -> web.Response:
    if (refusal := admin_refusal(request)) is not None:
        return refusal
    status = request.query.get("status", "open")
    if status not in ("open", "resolved", "all"):
        return web.json_response(
            {"error": "status: expected open, resolved or all", "field": "status"}, status=400
        )
    records = await drift_db.list_drift(
        request.app[SERVICES].pool, store_id=request.query.get("store") or None, status=status
    )
    return web.json_response({"drift": records}, dumps=lambda value: json.dumps(value, default=str))
