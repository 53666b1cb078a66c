"""The `stocksync import KIND FILE` command: validate the whole file, then write it in one transaction.

All or nothing: a bad row or a missing reference prints `FILE:LINE: column: reason` on stderr, exits 2,
and leaves the database unchanged. Parsing lives in daemon.importer, writing in daemon.db.catalog.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio.to_thread

from daemon.config import Config
from daemon.db import migrate
from daemon.db.catalog import import_rows
from daemon.db.pool import open_pool
from daemon.errors import InputError
from daemon.importer import KINDS, columns, read_rows


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    epilog = "\n".join(f"  {kind:<11} {','.join(columns(kind))}" for kind in KINDS)
    parser = subparsers.add_parser(
        "import",
        help="import a CSV or JSON file of facilities, regions, variants, stock, stores or mappings",
        description="Format by extension (.csv or .json). All or nothing; re-importing changes nothing.",
        epilog=f"columns:\n{epilog}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=KINDS, help="what the file holds")
    parser.add_argument("file", type=Path, help="a .csv (header row) or .json (array of objects) file")


async def run(args: argparse.Namespace, config: Config) -> int:
    kind: str = args.kind
    path: Path = args.file
    try:
        # Validate the whole file before touching the database (and without blocking the loop on I/O).
        rows = await anyio.to_thread.run_sync(read_rows, kind, path)
        async with open_pool(config.database) as pool, pool.acquire() as conn:
            await migrate.check(conn)  # refuse a database whose schema is not this build's
            async with conn.transaction():
                counts = await import_rows(conn, kind, rows, source=str(path))
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(counts.summary(path.name))
    return 0
