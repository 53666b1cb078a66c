"""Admin API (bearer token): run a pass now ("pull inventory"), list drift as JSON."""

from __future__ import annotations

import json

from aiohttp import web

from daemon.db import drift as drift_db
from daemon.db import work_queue
from daemon.db.stores import load_store
from daemon.drift_listing import decode_cursor, encode_cursor, filter_from_query, parse_limit
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
    """One page of drift records, newest first: `total` counts every match, `next` continues the list."""
    if (refusal := admin_refusal(request)) is not None:
        return refusal
    where = filter_from_query(request.query)
    limit = parse_limit(request.query.get("limit"))
    after = decode_cursor(request.query.get("after"))
    page = await drift_db.drift_page(request.app[SERVICES].pool, where, limit=limit, after=after)
    body = {
        "drift": page.records,
        "total": page.span.total,
        "next": encode_cursor(page.older) if page.older else None,
    }
    return web.json_response(body, dumps=lambda value: json.dumps(value, default=str))
