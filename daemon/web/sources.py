"""Source routes: a requested pull (admin bearer) and an upstream's signed callback.

POST /v1/sources/{id}/pull persists the request (a replica's scheduler pulls it, at once here) and
answers 202; 404 for an unknown source. POST /v1/sources/{id}/callback asks the source's reader to
verify the signature (401, nothing stored) and parse the body (400 naming the field); its stock rows
go through the events inbox (newest wins by occurred_at, a redelivery changes nothing) and its
`pull_ids` become a persisted partial-pull request, all in one transaction before the 202.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from aiohttp import web

from daemon.db import events
from daemon.db import sources as sources_db
from daemon.errors import InputError, NotFoundError
from daemon.model import StockEvent
from daemon.upstream_events import MAX_CLOCK_SKEW
from daemon.web.auth import admin_refusal
from daemon.web.context import SERVICES
from daemon.web.errors import error_body
from sources.checks import check_coverage
from sources.interface import SourceCallback, SourceError


async def pull(request: web.Request) -> web.Response:
    if (refusal := admin_refusal(request)) is not None:
        return refusal
    services = request.app[SERVICES]
    source_id = request.match_info["source_id"]
    _, enabled = await sources_db.load_source(services.pool, source_id)  # 404 naming an unknown id
    if not enabled:  # the scheduler pulls enabled sources only: the request would wait for ever
        return error_body(409, f"source {source_id} is disabled (enabled=false in its import row)")
    await sources_db.request_pull(services.pool, source_id)
    services.pull_soon()
    return web.json_response({"source_id": source_id, "pull_requested": True}, status=202)


async def callback(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    source_id = request.match_info["source_id"]
    body = await request.read()
    # an unknown source answers like a bad signature: no source ids can be enumerated unsigned
    refused = error_body(401, f"signature does not verify for source {source_id}")
    try:
        source, enabled = await sources_db.load_source(services.pool, source_id)
    except NotFoundError:
        return refused
    if services.sources is None or not enabled:
        return refused
    credential = services.credentials.load(source.credential) if source.credential else None
    try:
        reader = services.sources.build(source, credential)
    except SourceError as exc:
        return error_body(503, f"source {source_id} is misconfigured: {exc}")
    if not reader.verify_callback(request.headers, body):
        return refused
    taken = reader.parse_callback(request.headers, body)  # InputError → 400 naming the field
    if taken.occurred_at is not None and taken.occurred_at > datetime.now(UTC) + MAX_CLOCK_SKEW:
        # newest wins: a future stamp would make every real change after it look older
        raise InputError("body", "occurred_at", "in the future (ahead of our clock by more than 5 minutes)")
    try:
        check_coverage(source, taken.rows)
    except SourceError as exc:
        raise InputError("body", exc.where, exc.reason) from None
    async with services.pool.acquire() as conn, conn.transaction():
        result = (
            await events.ingest(conn, f"source:{source.id}", _events(taken, body)) if taken.rows else None
        )
        if taken.pull_ids:
            await sources_db.request_pull(conn, source.id, sorted(taken.pull_ids))
    if taken.pull_ids:
        services.pull_soon()
    return web.json_response(
        {
            "source_id": source.id,
            "new": result.new if result else 0,
            "applied": result.applied if result else 0,
            "queued": result.queued if result else 0,
            "pull_requested": len(taken.pull_ids),
        },
        status=202,
    )


def _events(taken: SourceCallback, body: bytes) -> list[StockEvent]:
    """The callback's rows as stock events; ids from the delivery id (or the body's hash), so a
    redelivery is recognised by the inbox and changes nothing."""
    delivery = taken.delivery_id or hashlib.sha256(body).hexdigest()
    at = taken.occurred_at or datetime.now(UTC)
    return [
        StockEvent(f"{delivery}:{i}", row.variant_id, row.facility_id, row.status, row.quantity, at)
        for i, row in enumerate(taken.rows)
    ]
