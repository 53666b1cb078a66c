"""Drift pages for support staff: sign in, list and filter drift, accept/reapply, CSV, variant history.

Browsers authenticate with a signed session cookie (never the token itself) and every form POST carries
a per-session CSRF token; scripts may send `Authorization: Bearer <admin-token>` instead.
"""

from __future__ import annotations

import hmac
import json
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlencode

from aiohttp import web

from daemon.alerts import Alert, active_alerts
from daemon.credentials import ADMIN_TOKEN
from daemon.db import alerts as alerts_db
from daemon.db import drift as drift_db
from daemon.db import sessions as sessions_db
from daemon.db import sources as sources_db
from daemon.db import work_queue
from daemon.db.history import variant_history
from daemon.db.stores import store_ids
from daemon.drift_listing import (
    DRIFT_COLUMNS,
    DriftFilter,
    decode_cursor,
    drift_rows,
    encode_cursor,
    filter_from_query,
    parse_limit,
)
from daemon.engine import REAPPLY
from daemon.errors import InputError, NotFoundError
from daemon.logs import get_logger
from daemon.metrics import DRIFT_RESOLVED
from daemon.notify import thresholds
from daemon.output import csv_lines
from daemon.web import pages, sessions
from daemon.web.auth import admin_refusal
from daemon.web.context import LOGIN_THROTTLE, SERVICES
from daemon.web.source_header import sources_header

HTML = "text/html"
# No script runs on these pages and none may frame them (the buttons change the store); nothing is cached.
NO_SCRIPT = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
COOKIE_PATH = "/drift"  # the browser sends the session only to the drift pages (CSV: /drift/export.csv)


def _token(request: web.Request) -> str | None:
    secret = request.app[SERVICES].credentials.load_optional(ADMIN_TOKEN)
    return None if secret is None else secret.reveal()


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, content_type=HTML, status=status, headers=NO_SCRIPT)


def _csrf_valid(token: str, session: str, presented: str) -> bool:
    # hmac.compare_digest raises on non-ASCII text (a 500); such a token is wrong anyway
    return presented.isascii() and sessions.csrf_valid(token, session, presented)


async def _signed_in(request: web.Request) -> tuple[bool, str | None]:
    """(allowed, session): a bearer script has no session; a browser has a valid, unrevoked cookie."""
    token = _token(request)
    if token is None:
        return False, None
    if request.headers.get("Authorization") and admin_refusal(request) is None:
        return True, None
    session = request.cookies.get(sessions.COOKIE)
    if not sessions.session_valid(token, session, time.time()) or session is None:
        return False, None
    if await sessions_db.revoked(request.app[SERVICES].pool, sessions.digest(session)):
        return False, None
    return True, session


def _secure(request: web.Request) -> bool:
    """Served over HTTPS, directly or (only when configured to trust it) as a proxy's header says."""
    if request.secure:
        return True
    trusted = request.app[SERVICES].config.http.trust_forwarded_proto
    return trusted and request.headers.get("X-Forwarded-Proto", "").strip().lower() == "https"


async def login_form(request: web.Request) -> web.Response:
    return _html(pages.login_form())


async def login(request: web.Request) -> web.Response:
    token = _token(request)
    address = request.remote or "unknown"
    throttle = request.app[LOGIN_THROTTLE]
    if (wait := throttle.wait_s(address, time.monotonic())) > 0:
        response = _html(pages.login_form("Too many wrong tokens from your address; try again later."), 429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    presented = str((await request.post()).get("token", ""))
    if token is None or not hmac.compare_digest(presented.encode(), token.encode()):
        failures = throttle.failed(address, time.monotonic())
        get_logger().warning("login_failed", client=address, failures_in_window=failures)
        return _html(pages.login_form("That token is not right."), 401)
    throttle.succeeded(address)
    get_logger().info("login_succeeded", client=address)
    response = web.HTTPSeeOther("/drift")
    response.set_cookie(
        sessions.COOKIE,
        sessions.new_session(token, time.time()),
        max_age=sessions.TTL_S,
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
        path=COOKIE_PATH,
    )
    raise response


async def logout_form(request: web.Request) -> web.Response:
    allowed, session = await _signed_in(request)
    token = _token(request)
    if not allowed or session is None or token is None:
        raise web.HTTPSeeOther("/drift/login")
    return _html(pages.logout_form(sessions.csrf_token(token, session)))


async def logout(request: web.Request) -> web.Response:
    """Revoke the session in the database (every replica refuses it from now on) and drop the cookie."""
    allowed, session = await _signed_in(request)
    token = _token(request)
    if allowed and session is not None and token is not None:
        if not _csrf_valid(token, session, str((await request.post()).get("csrf", ""))):
            raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the page")
        expires = datetime.fromtimestamp(sessions.expiry(session), UTC)
        await sessions_db.revoke(request.app[SERVICES].pool, sessions.digest(session), expires)
        get_logger().info("logout", client=request.remote or "unknown")
    response = web.HTTPSeeOther("/drift/login")
    response.del_cookie(sessions.COOKIE, path=COOKIE_PATH)
    raise response


def _listing(request: web.Request) -> tuple[dict[str, str], DriftFilter]:
    """The filters as the form shows them, and as the database applies them (bad values: 400)."""
    where = filter_from_query(request.query)
    shown = {
        "store": where.store_id or "",
        "status": where.status,
        "age": request.query.get("age", "").strip(),
    }
    return shown, where


async def drift_page(request: web.Request) -> web.Response:
    allowed, session = await _signed_in(request)
    if not allowed:
        raise web.HTTPSeeOther("/drift/login")
    token = _token(request)
    csrf = sessions.csrf_token(token, session) if token and session else None
    shown, where = _listing(request)
    raw_limit = request.query.get("limit", "").strip()
    limit = parse_limit(raw_limit)
    after = decode_cursor(request.query.get("after"))
    before = decode_cursor(request.query.get("before"), field="before")
    if after and before:
        raise InputError("query", "before", "give `after` (next page) or `before` (previous page), not both")
    pool = request.app[SERVICES].pool
    page = await drift_db.drift_page(pool, where, limit=limit, after=after, before=before)
    base = {k: v for k, v in shown.items() if v} | ({"limit": raw_limit} if raw_limit else {})
    here = base | {k: request.query[k] for k in ("after", "before") if request.query.get(k)}
    return _html(
        pages.drift_list(
            page.records,
            shown,
            csrf,
            span=page.span,
            newer_href=_href(base | {"before": encode_cursor(page.newer)}) if page.newer else None,
            older_href=_href(base | {"after": encode_cursor(page.older)}) if page.older else None,
            back=urlencode(here),
            limit=raw_limit,
            stores=await store_ids(pool),
            alerts=await _active_alerts(request),
            header=await _sources_header(request),
        )
    )


async def _active_alerts(request: web.Request) -> list[Alert]:
    """Every kind, whether or not a notification channel is configured (same snapshot as the notifier)."""
    snapshot = await alerts_db.snapshot(request.app[SERVICES].pool)
    return active_alerts(snapshot, thresholds(request.app[SERVICES].config))


async def _sources_header(request: web.Request) -> str:
    services = request.app[SERVICES]
    stale_after = services.config.sources.stale_after_intervals
    rows = await sources_db.source_freshness(services.pool, stale_after)
    return sources_header(rows, stale_after, datetime.now(UTC))


def _href(params: dict[str, str]) -> str:
    return "/drift?" + urlencode(params)


async def drift_csv(request: web.Request) -> web.StreamResponse:
    """Every matching record (no cut), streamed a page at a time."""
    if not (await _signed_in(request))[0]:
        raise web.HTTPUnauthorized(text="sign in at /drift/login or send the admin bearer token")
    where = filter_from_query(request.query)  # validated before the first byte goes out
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": "attachment; filename=stocksync-drift.csv",
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    header = True
    async for records in drift_db.each_drift_page(request.app[SERVICES].pool, where):
        await response.write(csv_lines(drift_rows(records), DRIFT_COLUMNS, header=header).encode())
        header = False
    if header:
        await response.write(csv_lines([], DRIFT_COLUMNS, header=True).encode())
    await response.write_eof()
    return response


async def resolve(request: web.Request) -> web.Response:
    allowed, session = await _signed_in(request)
    if not allowed:
        raise web.HTTPUnauthorized(text="sign in at /drift/login or send the admin bearer token")
    form = await request.post()
    token = _token(request)
    if session is not None and not (token and _csrf_valid(token, session, str(form.get("csrf", "")))):
        raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the drift page")
    action = request.match_info["action"]
    drift_id = int(request.match_info["drift_id"])
    pool = request.app[SERVICES].pool
    back = urlencode(parse_qsl(str(form.get("back", ""))))
    if action == "accept" and session is not None and token and form.get("confirm") != "yes":
        # Accept pauses syncing of the variant: a browser is asked first (scripts say what they mean)
        try:
            record = await drift_db.get_drift(pool, drift_id)
        except NotFoundError:
            record = None
        if record is None or record["status"] != "open":
            return _not_found(f"no open drift record {drift_id}")
        return _html(pages.confirm_accept(record, sessions.csrf_token(token, session), back))
    try:
        async with pool.acquire() as conn:
            store_id, external_id = await drift_db.resolve(conn, drift_id, action, "drift-page")
    except NotFoundError as exc:
        return _not_found(str(exc))
    DRIFT_RESOLVED.labels(action).inc()
    if action == "reapply":
        await work_queue.enqueue_variants(pool, store_id, [external_id], REAPPLY)
    raise web.HTTPSeeOther("/drift" + (f"?{back}" if back else ""))


async def history_page(request: web.Request) -> web.Response:
    allowed, session = await _signed_in(request)
    if not allowed:
        raise web.HTTPSeeOther("/drift/login")
    token = _token(request)
    try:
        history = await variant_history(
            request.app[SERVICES].pool, request.match_info["store_id"], request.match_info["external_id"]
        )
    except NotFoundError as exc:
        return _not_found(str(exc))
    csrf = sessions.csrf_token(token, session) if token and session else None
    return _html(pages.variant_history(history, csrf))


async def resume(request: web.Request) -> web.Response:
    """Sync again a variant whose store value support accepted, and write its desired value now."""
    allowed, session = await _signed_in(request)
    if not allowed:
        raise web.HTTPUnauthorized(text="sign in at /drift/login or send the admin bearer token")
    form = await request.post()
    token = _token(request)
    if session is not None and not (token and _csrf_valid(token, session, str(form.get("csrf", "")))):
        raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the variant's page")
    store_id, external_id = request.match_info["store_id"], request.match_info["external_id"]
    pool = request.app[SERVICES].pool
    try:
        await drift_db.resume_variant(pool, store_id, external_id)
    except NotFoundError as exc:
        return _not_found(str(exc))
    await work_queue.enqueue_variants(pool, store_id, [external_id], "manual")
    raise web.HTTPSeeOther(f"/drift/stores/{quote(store_id, safe='')}/variants/{quote(external_id, safe='')}")


def _not_found(message: str) -> web.Response:
    return _html(pages.not_found(message), 404)


async def history_json(request: web.Request) -> web.Response:
    if (refusal := admin_refusal(request)) is not None:
        return refusal
    history = await variant_history(
        request.app[SERVICES].pool, request.match_info["store_id"], request.match_info["external_id"]
    )
    return web.json_response(history, dumps=lambda value: json.dumps(value, default=str))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/drift/login", login_form)
    app.router.add_post("/drift/login", login)
    app.router.add_get("/drift/logout", logout_form)
    app.router.add_post("/drift/logout", logout)
    app.router.add_get("/drift", drift_page)
    app.router.add_get("/drift.csv", drift_csv)
    app.router.add_get("/drift/export.csv", drift_csv)  # under the cookie's path, for browsers
    # ids are bigint: more than 18 digits cannot name a record (and would overflow the parameter)
    app.router.add_post(r"/drift/{drift_id:\d{1,18}}/{action:accept|reapply}", resolve)
    app.router.add_get("/drift/stores/{store_id}/variants/{external_id}", history_page)
    app.router.add_post("/drift/stores/{store_id}/variants/{external_id}/resume", resume)
    app.router.add_get("/v1/stores/{store_id}/variants/{external_id}/history", history_json)
