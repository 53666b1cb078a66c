"""The listening socket: per-connection deadlines, a connection cap, and bounded logging of refusals.

aiohttp closes an idle keep-alive connection (`keepalive_timeout`) but waits forever for the first
request's headers; a few hundred silent connections would exhaust file descriptors. Each accepted
connection gets a deadline for its first request; connections beyond the cap are closed on accept.
The body deadline is a middleware (daemon/web/errors.py), and the event loop's own errors (EMFILE on
accept) go through a rate-limited exception handler.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from daemon.config import HttpConfig
from daemon.logs import get_logger

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HTTP_LIMITS = web.AppKey("http_limits", HttpConfig)
REFUSAL_LOG_EVERY_S = 10.0  # one line per kind of refusal per this many seconds, with the count since


@dataclass
class SparseLog:
    """Logs an event at most once per interval, counting what it left out; a flood writes a few lines."""

    interval_s: float = REFUSAL_LOG_EVERY_S
    _last: dict[str, float] = field(default_factory=dict)
    _skipped: dict[str, int] = field(default_factory=dict)

    def warning(self, event: str, *, kind: str = "", **fields: Any) -> None:
        key = f"{event}:{kind}"
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return
        self._last[key] = now
        get_logger().warning(event, suppressed_since_last=self._skipped.pop(key, 0), **fields)


class _Guarded(asyncio.Protocol):
    """Wraps aiohttp's protocol: refuses over the cap, closes a connection whose first request is late."""

    def __init__(self, site: GuardedSite) -> None:
        self._site = site
        self._inner: RequestHandler | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        site = self._site
        if site.open_connections >= site.limits.max_connections:
            site.log.warning(
                "connection_refused", reason="max_connections", limit=site.limits.max_connections
            )
            transport.abort()
            return
        site.open_connections += 1
        self._inner = site.protocol_factory()
        self._inner.connection_made(transport)
        self._deadline = asyncio.get_running_loop().call_later(site.limits.header_timeout_s, self._late)

    def _late(self) -> None:
        if self._inner is not None and self._inner._request_count == 0 and self._transport is not None:
            self._site.log.warning("connection_closed", reason="no request headers within header_timeout_s")
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)
            if self._deadline is not None and self._inner._request_count:
                self._deadline.cancel()  # from here on aiohttp's keep-alive timeout and the body deadline
                self._deadline = None

    def eof_received(self) -> bool | None:
        if self._inner is not None:
            self._inner.eof_received()
        return None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        if self._inner is not None:
            self._site.open_connections -= 1
            self._inner.connection_lost(exc)
            self._inner = None


class GuardedSite(web.TCPSite):
    """A TCPSite whose connections are guarded by _Guarded."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, limits: HttpConfig) -> None:
        super().__init__(runner, host, port)
        self.limits = limits
        self.log = SparseLog()
        self.open_connections = 0

    def protocol_factory(self) -> RequestHandler:
        server = self._runner.server
        assert server is not None
        return server()

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Guarded(self), self._host, self._port, reuse_address=True, backlog=self._backlog
        )


def sparse_exception_handler(log: SparseLog) -> Any:
    """An event-loop exception handler that logs each kind of error (accept EMFILE, …) sparsely."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = str(context.get("message", ""))
        log.warning(
            "event_loop_error",
            kind=message,
            message=message,
            error=f"{type(exc).__name__}: {exc}" if exc is not None else "",
        )

    return handle


@web.middleware
async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read a request's body within http.body_timeout_s (handlers then get it from aiohttp's cache);
    a client that stops half-way is answered 408 and its connection closed."""
    if request.body_exists and not request.content_type.startswith("multipart/"):
        timeout = request.app[HTTP_LIMITS].body_timeout_s
        try:
            async with asyncio.timeout(timeout):
                await request.read()
        except TimeoutError:
            response = web.json_response(
                {"error": f"request body not received within {timeout:g} s"}, status=408
            )
            response.force_close()
            return response
    return await handler(request)
