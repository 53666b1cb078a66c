"""Every line the daemon's logging writes is JSON, including aiohttp's and asyncio's own errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, sys, warnings
    import aiohttp
    from aiohttp import web
    from daemon.logs import configure_logging

    configure_logging("info", "json", stream=sys.stderr)

    async def broken(request):
        raise RuntimeError("handler blew up")

    async def main():
        app = web.Application()
        app.router.add_get("/", broken)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/") as response:
                assert response.status == 500
        loop = asyncio.get_running_loop()
        loop.call_exception_handler({"message": "task went wrong", "exception": ValueError("x")})
        logging.getLogger("some.library").warning("plain stdlib line\\nwith two lines")
        warnings.warn("a deprecation", DeprecationWarning, stacklevel=1)
        await runner.cleanup()

    asyncio.run(main())
    """
)


def test_aiohttp_and_asyncio_errors_are_json_lines() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines
    parsed = [json.loads(line) for line in lines]  # every line, or the test fails here
    events = " ".join(str(p.get("event")) for p in parsed)
    assert "Error handling request" in events and "task went wrong" in events
    assert "plain stdlib line" in events and "a deprecation" in events
    assert any("handler blew up" in p.get("exception", "") for p in parsed)
    assert all("level" in p and "timestamp" in p for p in parsed)
