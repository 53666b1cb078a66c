"""Counts database round trips: a TCP proxy between the daemon and PostgreSQL that reads the frontend
protocol and counts what ends a round trip (Sync after an extended-protocol exchange, or a simple
Query). Placed in front of a daemon only for the accounting run, never for the timed ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

_SSL_OR_GSS = {80877103, 80877104}


@dataclass
class Counter:
    round_trips: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


async def _target(dsn: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(dsn)
    socket_dir = parse_qs(parts.query).get("host", [None])[0]
    if socket_dir and socket_dir.startswith("/"):
        return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{parts.port or 5432}")
    return await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 5432)


async def _count_frontend(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: Counter
) -> None:
    while True:  # startup, possibly after an SSL/GSS request the server refuses
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        body = await reader.readexactly(length - 4)
        writer.write(struct.pack("!I", length) + body)
        if struct.unpack("!I", body[:4])[0] not in _SSL_OR_GSS:
            break
    while True:
        kind = await reader.readexactly(1)
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        body = await reader.readexactly(length - 4)
        if kind in (b"S", b"Q"):
            counter.round_trips += 1
        writer.write(kind + struct.pack("!I", length) + body)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(65536):
        writer.write(chunk)


@asynccontextmanager
async def counting_proxy(dsn: str) -> AsyncIterator[tuple[str, Counter]]:
    """A DSN that reaches the same database through the counting proxy (TLS off: it reads the stream)."""
    counter = Counter()

    async def serve(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await _target(dsn)
        try:
            await asyncio.gather(
                _count_frontend(client_reader, server_writer, counter), _pipe(server_reader, client_writer)
            )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for w in (server_writer, client_writer):
                w.close()

    def spawn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(serve(r, w))
        counter.tasks.add(task)
        task.add_done_callback(counter.tasks.discard)

    server = await asyncio.start_server(spawn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    parts = urlsplit(dsn)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "host"} | {"sslmode": "disable"}
    user = parts.username or "postgres"
    password = f":{parts.password}" if parts.password else ""
    proxied = urlunsplit(
        ("postgresql", f"{user}{password}@127.0.0.1:{port}", parts.path, urlencode(query), "")
    )
    try:
        yield proxied, counter
    finally:
        server.close()
        for task in list(counter.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await server.wait_closed()
