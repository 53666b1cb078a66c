"""Webhook endpoints: upstream stock events, catalog updates, and store-side change notifications.

Upstream events are persisted (inbox + facility stock + queued pairs) in one transaction before the
202; a refused request stores nothing. A request whose client has gone is not finished (the server
cancels its handler: the transaction rolls back), and one the database cannot serve within
http.request_timeout_s is answered 503 with nothing stored: a sender's retry with the same event ids is
then applied once, never twice.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from aiohttp import web

from daemon.db import events, work_queue
from daemon.db import sources as sources_db
from daemon.db.stores import load_store
from daemon.errors import InputError, NotFoundError
from daemon.metrics import record_notification_drift
from daemon.text import storable_text
from daemon.upstream_events import parse_stock_events
from daemon.web.auth import signed_body
from daemon.web.context import SERVICES
from daemon.web.errors import error_body

SOURCE = "upstream"


async def stock_events(request: web.Request) -> web.Response:
    body = await signed_body(request)
    if isinstance(body, web.Response):
        return body
    batch = parse_stock_events(body, datetime.now(UTC))
    services = request.app[SERVICES]
    bound = services.config.http.request_timeout_s
    try:
        async with asyncio.timeout(bound), services.pool.acquire() as conn:
            result = await events.ingest(conn, SOURCE, batch)
    except TimeoutError:  # rolled back: the sender's retry (same event ids) is applied exactly once
        response = error_body(503, f"not stored: the database did not answer within {bound:g} s; retry")
        response.headers["Retry-After"] = "1"
        return response
    return web.json_response(
        {"received": result.received, "new": result.new, "applied": result.applied, "queued": result.queued},
        status=202,
    )


async def catalog_updated(request: web.Request) -> web.Response:
    """The back office changed the catalog: refresh the stores that sync the named variants (or all),
    and ask the upstream sources covering them for a pull (a POS bridge re-reads stock then too)."""
    body = await signed_body(request)
    if isinstance(body, web.Response):
        return body
    variant_ids = _variant_ids(body)
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn, conn.transaction():
        stores = await events.stores_to_refresh(conn, variant_ids)
        for store_id in stores:
            await work_queue.enqueue_full_pass(conn, store_id, "catalog")
        pulls = await sources_db.request_pulls_for_variants(conn, variant_ids or None)
    return web.json_response({"stores": sorted(stores), "sources": pulls}, status=202)


def _variant_ids(body: bytes) -> list[str]:
    if not body.strip():
        return []
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise InputError("body", "json", f"not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError("body", "json", "nested deeper than the parser goes") from None
    ids = document.get("variant_ids", []) if isinstance(document, dict) else None
    if not isinstance(ids, list):
        raise InputError("body", "variant_ids", "expected an array of variant ids")
    for index, variant_id in enumerate(ids):
        if not (isinstance(variant_id, str) and variant_id and storable_text(variant_id)):
            raise InputError(
                "body", f"variant_ids[{index}]", "expected a variant id (non-empty text, no NUL)"
            )
    return ids


async def store_webhook(request: web.Request) -> web.Response:
    """A store's own change notification: verified by its platform's scheme, drift detected at once."""
    services = request.app[SERVICES]
    store_id = request.match_info["store_id"]
    body = await request.read()
    # An unknown store gets the answer of a bad signature: no store ids can be enumerated unsigned.
    refused = error_body(401, f"signature does not verify for store {store_id}")
    try:
        async with services.pool.acquire() as conn:
            store = await load_store(conn, store_id)
    except NotFoundError:
        return refused
    reconciler = services.engine.reconciler_for(store)
    if not reconciler.verify_webhook(request.headers, body):
        return refused
    observed = reconciler.parse_webhook(request.headers, body)
    capabilities = reconciler.capabilities
    result = await services.engine.take_notification(
        store.id, observed, capabilities.notification_ref, capabilities.product_of
    )
    record_notification_drift(store.platform, result.drift_opened)
    return web.json_response(
        {"matched": result.matched, "drift_opened": result.drift_opened, "queued": result.queued}, status=200
    )
