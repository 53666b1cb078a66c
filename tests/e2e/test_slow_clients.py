"""Slow clients: idle and half-sent connections are closed, the connection cap holds, and a flood of
refused connections writes a bounded number of log lines. Real sockets against the real daemon."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.daemon_process import eventually, running_daemon

LIMITS = {"header_timeout_s": 1, "body_timeout_s": 1, "idle_timeout_s": 1, "max_connections": 8}


async def _open(port: int, data: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if data:
        writer.write(data)
        await writer.drain()
    return reader, writer


async def _closed(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed the connection (whatever it sent before)."""
    try:
        await asyncio.wait_for(reader.read(), 15)
    except (TimeoutError, ConnectionError):
        return False
    return reader.at_eof()


async def test_idle_and_half_sent_connections_are_closed(db_dsn: str, tmp_path: Path) -> None:
    async with running_daemon(db_dsn, tmp_path, tmp_path, http=LIMITS) as daemon:
        port = int(daemon.url.rsplit(":", 1)[1])
        idle = await _open(port)
        half_headers = await _open(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        half_body = await _open(
            port,
            b"POST /v1/stock-events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"events": [',
        )
        for reader, writer in (idle, half_headers, half_body):
            assert await _closed(reader)
            writer.close()
        status, _ = await daemon.get("/healthz")  # the server itself is fine
        assert status == 200


async def test_the_connection_cap_holds_and_refusals_are_logged_sparingly(
    db_dsn: str, tmp_path: Path
) -> None:
    async with running_daemon(db_dsn, tmp_path, tmp_path, http=LIMITS | {"header_timeout_s": 30}) as daemon:
        port = int(daemon.url.rsplit(":", 1)[1])
        held = [await _open(port) for _ in range(8)]
        extra = [await _open(port) for _ in range(200)]
        for reader, _ in extra[:5]:
            assert await _closed(reader)  # over the cap: closed at once, not held
        for _, writer in held:
            assert not writer.is_closing()
        for _, writer in held + extra:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for _, w in held + extra), return_exceptions=True)

        async def healthy() -> bool:
            try:
                return (await daemon.get("/healthz"))[0] == 200
            except OSError:
                return False

        assert await eventually(healthy)
        refusals = [line for line in daemon.logs().splitlines() if "connection_refused" in line]
        assert 1 <= len(refusals) <= 3, len(refusals)


async def test_a_flood_of_accept_errors_writes_a_few_log_lines() -> None:
    import io
    import json

    from daemon.logs import configure_logging
    from daemon.web.server import SparseLog, sparse_exception_handler

    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(sparse_exception_handler(SparseLog()))
    try:
        for _ in range(5000):  # what EMFILE on accept produces while descriptors are exhausted
            loop.call_exception_handler(
                {"message": "socket.accept() out of system resource", "exception": OSError(24, "Too many")}
            )
        loop.call_exception_handler({"message": "another kind", "exception": ValueError("x")})
    finally:
        loop.set_exception_handler(previous)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["socket.accept() out of system resource", "another kind"]
