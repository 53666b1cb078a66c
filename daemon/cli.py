"""The `stocksync` command line: argument parsing and dispatch only; each command's work lives elsewhere.

Exit status: 0 success, 1 runtime failure, 2 bad input (config, import file, arguments).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from daemon import __version__, import_command, notify_command, source_command, sync_commands
from daemon.config import Config, effective, load_config, masked_dsn
from daemon.db import migrate as migrations
from daemon.db.pool import CANNOT_CONNECT, open_pool
from daemon.db.stores import point_store_at
from daemon.errors import (
    ConfigError,
    CredentialError,
    InputError,
    MigrationError,
    NotFoundError,
    StocksyncError,
)
from daemon.logs import configure_logging
from daemon.resources import credential_store

Handler = Callable[[argparse.Namespace, Config], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stocksync", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--config", metavar="PATH", help="TOML config (default: ./stocksync.toml, /etc/stocksync/)"
    )
    parser.add_argument("--version", action="version", version=f"stocksync {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("migrate", help="apply pending database migrations (idempotent)")

    config = commands.add_parser("config", help="configuration commands")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    config_sub.add_parser("check", help="validate and print the effective configuration, secrets masked")

    commands.add_parser("run", help="run the daemon (HTTP server, scheduler, store workers)")
    sync_commands.register(commands)
    import_command.register(commands)
    notify_command.register(commands)
    source_command.register(commands)
    sandbox = commands.add_parser(
        "sandbox", help="the local sandbox store (a real HTTP store for demos/tests)"
    )
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="SUBCOMMAND")
    serve = sandbox_sub.add_parser("serve", help="serve a sandbox store until interrupted")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8801)
    serve.add_argument("--state", metavar="FILE", help="JSON file the store's items persist in")
    serve.add_argument(
        "--token-file", metavar="FILE", help="file holding the bearer token (default: 'sandbox')"
    )
    serve.add_argument("--page-size", type=int, default=100)
    serve.add_argument("--batch-limit", type=int, default=50)
    serve.add_argument(
        "--rate", type=float, default=None, help="requests per second before 429 (default: none)"
    )
    serve.add_argument("--webhook-url", help="where manual edits are notified")
    serve.add_argument("--webhook-secret-file", metavar="FILE")
    serve.add_argument(
        "--items-from",
        metavar="MAPPINGS",
        help="list every external id of this mappings file (.csv/.json) as an item, so the store can be "
        "synced at once (new items start unavailable; existing ones keep their values)",
    )
    serve.add_argument("--store", help="with --items-from: only this store's rows")
    serve.add_argument(
        "--register-as",
        metavar="STORE",
        help="record this sandbox's address as the imported STORE's base_url (with --port 0, a free "
        "port: no port in stores.csv to keep free)",
    )
    return parser


async def _cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    async with open_pool(config.database) as pool, pool.acquire() as conn:
        applied = await migrations.migrate(conn)
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print("database schema is current; nothing to apply")
    return 0


async def _cmd_config_check(args: argparse.Namespace, config: Config) -> int:
    credentials = credential_store(config)
    print(json.dumps(effective(config) | {"credentials_check": credentials.daemon_report()}, indent=2))
    if (problem := credentials.startup_problem(require_admin=False)) is not None:
        print(f"stocksync: config: credentials: {problem}", file=sys.stderr)
        return 2
    return 0


async def _cmd_run(args: argparse.Namespace, config: Config) -> int:
    from daemon.runtime import run_daemon

    return await run_daemon(config, config_path=args.config)


async def _cmd_sandbox(args: argparse.Namespace, config: Config) -> int:
    from pathlib import Path

    from sandbox_store.server import SandboxConfig, serve_forever

    def read(path: str | None, default: str | None) -> str | None:
        return Path(path).read_text(encoding="utf-8").strip() if path else default

    sandbox = SandboxConfig(
        token=read(args.token_file, "sandbox") or "sandbox",
        page_size=args.page_size,
        batch_limit=args.batch_limit,
        rate_per_s=args.rate,
        webhook_url=args.webhook_url,
        webhook_secret=read(args.webhook_secret_file, None),
        state_file=Path(args.state) if args.state else None,
    )
    items = _sandbox_items(args.items_from, args.store)

    async def register(url: str) -> None:
        if args.register_as is None:
            return
        async with open_pool(config.database) as pool:
            if not await point_store_at(pool, args.register_as, url):
                raise InputError(
                    "argument", "--register-as", f"no store {args.register_as!r}: import stores first"
                )

    await serve_forever(
        sandbox, args.host, args.port, items, lambda line: print(line, flush=True), listening=register
    )
    return 0


def _sandbox_items(path: str | None, store_id: str | None) -> list[str]:
    """The external ids a sandbox should list: a mappings file's rows (of one store, if named)."""
    from pathlib import Path

    from daemon.importer import read_rows

    if path is None:
        if store_id is not None:
            raise InputError("argument", "--store", "only means something with --items-from")
        return []
    rows = read_rows("mappings", Path(path))  # InputError names FILE:LINE: column
    ids = [r.values["external_id"] for r in rows if store_id in (None, r.values["store_id"])]
    if not ids:
        raise InputError(path, "store_id", f"no row for store {store_id!r}")
    return ids


_HANDLERS: dict[str, Handler] = {
    "migrate": _cmd_migrate,
    "config": _cmd_config_check,
    "sync": sync_commands.cmd_sync,
    "show": sync_commands.cmd_show,
    "drift": sync_commands.cmd_drift,
    "import": import_command.run,
    "notify": notify_command.run,
    "pull": source_command.cmd_pull,
    "run": _cmd_run,
    "sandbox": _cmd_sandbox,
}


def _address_in_use(args: argparse.Namespace, config: Config) -> str:
    """Where a listening command tried to bind, and the setting that chooses it."""
    if args.command == "sandbox":
        return f"{args.host}:{args.port} (choose another with --port)"
    return f"{config.http.listen} (choose another with http.listen or STOCKSYNC_HTTP__LISTEN)"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"stocksync: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.logging.level, config.logging.format, stream=sys.stderr)
    handler = _HANDLERS[args.command]
    try:
        return asyncio.run(handler(args, config))
    except (InputError, ConfigError) as exc:
        print(f"stocksync: {exc}", file=sys.stderr)
        return 2
    except (MigrationError, CredentialError, NotFoundError, StocksyncError) as exc:
        print(f"stocksync: {exc}", file=sys.stderr)
        return 1
    except CANNOT_CONNECT as exc:  # a message, not a traceback; asyncpg never echoes the password
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:  # our own listening socket
            where = _address_in_use(args, config)
            print(f"stocksync: cannot listen on {where}: the address is already in use", file=sys.stderr)
            return 1
        reason = masked_dsn(f"{type(exc).__name__}: {exc}")
        print(f"stocksync: cannot reach the database: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
