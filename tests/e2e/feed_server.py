"""A local HTTP feed for source tests: serves a JSON stock document with an ETag and answers 304 to a
matching If-None-Match; counts what it served."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Feed:
    rows: list[dict[str, Any]]
    url: str = ""
    served: list[int] = field(default_factory=list)  # status of every answer, in order
    authorizations: list[str | None] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(json.dumps(self.rows, sort_keys=True).encode()).hexdigest()[:16] + '"'

    async def handle(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization"))
        if request.headers.get("If-None-Match") == self.etag:
            self.served.append(304)
            return web.Response(status=304, headers={"ETag": self.etag})
        self.served.append(200)
        return web.json_response({"stock": self.rows}, headers={"ETag": self.etag})


@asynccontextmanager
async def serving(rows: list[dict[str, Any]]) -> AsyncIterator[Feed]:
    feed = Feed(rows)
    app = web.Application()
    app.router.add_get("/stock.json", feed.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    feed.url = f"http://127.0.0.1:{port}/stock.json"
    try:
        yield feed
    finally:
        await runner.cleanup()
