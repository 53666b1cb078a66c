"""A ~40-line asyncio TCP proxy in front of PostgreSQL: cut every connection and refuse new ones, then heal."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit, urlunsplit


class PgProxy:
    def __init__(self, target_dsn: str) -> None:
        parts = urlsplit(target_dsn)
        socket_dir = parse_qs(parts.query).get("host", [""])[0] or (parts.hostname or "")
        self._unix = f"{socket_dir}/.s.PGSQL.{parts.port or 5432}" if socket_dir.startswith("/") else None
        self._tcp = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._target = parts
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.up = True
        self.port = 0

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        user = self._target.username or "postgres"
        return urlunsplit(("postgresql", f"{user}@127.0.0.1:{self.port}", self._target.path, "", ""))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        if self._unix:
            up_reader, up_writer = await asyncio.open_unix_connection(self._unix)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self._tcp)
        self._links.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._links.discard(writer)

    def cut(self) -> None:
        """The database 'stops': every open connection drops, new ones are refused."""
        self.up = False
        for writer in list(self._links):
            writer.close()

    def heal(self) -> None:
        self.up = True

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
