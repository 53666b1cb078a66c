"""Fault case 6, security: admin endpoints refuse missing and wrong tokens, the server answers on loopback
only by default, no secret reaches a log or an error (the suite-wide scan is tests/secret_scan.py), and
SQL is built only with parameters (an AST check over daemon/ and reconcilers/)."""

from __future__ import annotations

import ast
import asyncio
import errno
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog

from daemon.config import Config
from daemon.db.pool import Pool
from daemon.web.context import LOGIN_THROTTLE
from tests.e2e.daemon_process import ADMIN_TOKEN, STOCKSYNC, free_port, running_daemon
from tests.faults.app_client import Client, app_client
from tests.secret_scan import leaked_names, register_secret

REPO = Path(__file__).resolve().parents[2]
DSN_PASSWORD = "dsn-pw-7Hq2-never-logged"  # harvested by the secret scan like every *PASSWORD constant

ADMIN_ROUTES = [
    ("POST", "/v1/stores/s1/sync"),
    ("GET", "/v1/drift"),
    ("GET", "/v1/stores/s1/variants/E1/history"),
    ("GET", "/drift.csv"),
    ("GET", "/drift/export.csv"),
    ("POST", "/drift/1/accept"),
    ("POST", "/drift/1/reapply"),
]
WRONG_AUTHORIZATION = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer wrong-token",
    f"Bearer {ADMIN_TOKEN}x",
    f"Bearer {ADMIN_TOKEN[:-1]}",
    f"Bearer  {ADMIN_TOKEN}",  # the token with a leading blank is another token
    f"Basic {ADMIN_TOKEN}",
    ADMIN_TOKEN,
    f"Token {ADMIN_TOKEN}",
]


async def _status(client: Client, method: str, path: str, authorization: str | None) -> int:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with client.request(method, path, headers=headers, allow_redirects=False) as response:
        body = await response.text()
        assert ADMIN_TOKEN not in body
        return response.status


def forget_failures(client: Client) -> None:
    assert client.app is not None
    client.app[LOGIN_THROTTLE].succeeded("127.0.0.1")


async def test_admin_endpoints_answer_401_without_or_with_a_wrong_token(
    pool: Pool, tmp_path: Path, figure: Callable[..., None]
) -> None:
    tried = accepted = 0
    async with app_client(pool, tmp_path / "credentials") as client:
        for method, path in ADMIN_ROUTES:
            for authorization in WRONG_AUTHORIZATION:
                tried += 1
                forget_failures(client)  # each refusal is tested here, the throttle below
                status = await _status(client, method, path, authorization)
                accepted += status != 401
                assert status == 401, (method, path, authorization and authorization.split(" ")[0])
            # the right token passes the check (so the refusals above are not a broken route)
            assert await _status(client, method, path, f"Bearer {ADMIN_TOKEN}") != 401
        tried += 2  # the browser entry points: no session → sign-in, wrong token → 401
        assert await _status(client, "GET", "/drift", None) == 303
        async with client.post("/drift/login", data={"token": "wrong"}) as login:
            assert login.status == 401
    figure("6 security: admin auth", tried=tried, accepted=accepted)


async def test_wrong_bearer_tokens_from_one_address_are_throttled_and_logged(
    pool: Pool, tmp_path: Path, figure: Callable[..., None]
) -> None:
    method, path = ADMIN_ROUTES[0]
    async with app_client(pool, tmp_path / "credentials") as client:
        with structlog.testing.capture_logs() as logs:
            statuses = [await _status(client, method, path, f"Bearer guess-{n}") for n in range(7)]
            async with client.request(
                method, path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ) as late:
                retry_after = late.headers.get("Retry-After")
                late_status = late.status
    assert statuses == [401] * 5 + [429, 429]  # five guesses per quarter hour, then a wait
    assert late_status == 429 and retry_after is not None and int(retry_after) > 0
    failed = [e for e in logs if e["event"] == "admin_auth_failed"]
    assert len(failed) == 5 and all(ADMIN_TOKEN not in str(e) for e in failed)
    figure("6 security: bearer guesses", tried=8, refused_401=5, throttled_429=3, logged=len(failed))


async def test_admin_api_is_closed_when_no_admin_token_is_configured(pool: Pool, tmp_path: Path) -> None:
    async with app_client(pool, tmp_path / "credentials", admin_token=False) as client:
        for method, path in ADMIN_ROUTES:
            assert await _status(client, method, path, f"Bearer {ADMIN_TOKEN}") == 401


def _non_loopback_ipv4() -> str | None:
    """An address of this machine other than 127/8 (the one a default route would use), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.254", 9))  # routing only: a UDP connect sends no packet
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def _refused(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 3)
    except ConnectionRefusedError:
        return True
    except OSError as exc:
        return exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH)
    writer.close()
    await writer.wait_closed()
    return False


def test_the_default_listen_address_is_loopback() -> None:
    host = Config().http.listen.rpartition(":")[0]
    assert host == "127.0.0.1"
    example = (REPO / "systemd" / "stocksync.toml.example").read_text()
    assert 'listen = "127.0.0.1:' in example


async def test_the_daemon_does_not_answer_on_a_non_loopback_address(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Callable[..., None]
) -> None:
    address = _non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    default_host = Config().http.listen.rpartition(":")[0]
    port = free_port()
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    listen = {"STOCKSYNC_HTTP__LISTEN": f"{default_host}:{port}"}  # the default host, a free port
    async with running_daemon(db_dsn, tmp_path, credentials, port=port, extra_env=listen) as daemon:
        assert (await daemon.get("/healthz"))[0] == 200  # it answers on loopback …
        assert await _refused(address, port), f"the daemon answered on {address}"  # … and nowhere else
    figure("6 security: non-loopback", tried=1, answered=0, address=address)


async def _cli(*args: str, dsn: str, credentials: Path) -> str:
    env = {"PATH": "/usr/bin:/bin", "STOCKSYNC_DATABASE__DSN": dsn, "STOCKSYNC_LOGGING__FORMAT": "json"}
    env["STOCKSYNC_CREDENTIALS__DIRECTORY"] = str(credentials)  # `run` needs a usable admin token
    process = await asyncio.create_subprocess_exec(
        STOCKSYNC, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return output.decode(errors="replace")


async def test_a_dsn_password_never_reaches_output_or_errors(
    tmp_path: Path, figure: Callable[..., None]
) -> None:
    register_secret("DSN_PASSWORD", DSN_PASSWORD)
    (tmp_path / "admin-token").write_text(ADMIN_TOKEN)
    unreachable = f"postgresql://stocksync:{DSN_PASSWORD}@127.0.0.1:{free_port()}/stocksync"
    commands = [("config", "check"), ("migrate",), ("run",), ("show", "desired", "--store", "s1")]
    outputs = [await _cli(*command, dsn=unreachable, credentials=tmp_path) for command in commands]
    assert "***" in outputs[0]  # config check shows that a password is set, masked
    for out in outputs[1:]:  # a one-line reason, not a traceback
        assert (
            "stocksync: cannot reach the database: ConnectionRefusedError" in out and "Traceback" not in out
        )
    leaked = [" ".join(c) for c, out in zip(commands, outputs, strict=True) if DSN_PASSWORD in out]
    assert leaked == []
    figure("6 security: DSN password", tried=len(commands), leaked=len(leaked))


def test_the_secret_scan_names_a_leak_without_its_value() -> None:
    register_secret("SCAN_SELF_TEST_SECRET", "self-test-secret-value-42")
    assert leaked_names(["log line: self-test-secret-value-42"]) == ["SCAN_SELF_TEST_SECRET"]
    assert leaked_names(["nothing secret here"]) == []
    assert "tests.e2e.daemon_process.ADMIN_TOKEN" in leaked_names([f"x {ADMIN_TOKEN} y"])


# ---------------------------------------------------------------- SQL built only with parameters

SQL_CALLS = {
    "execute",
    "executemany",
    "fetch",
    "fetchrow",
    "fetchval",
    "fetchmany",
    "prepare",
    "cursor",
    "copy_from_query",
    "copy_from_table",  # the copy_* calls below take a table name: an identifier, still never built
    "copy_to_table",
    "copy_records_to_table",
}
# (file, function) → why an identifier must be interpolated; empty: no SQL text is ever built
SQL_ALLOW_LIST: dict[tuple[str, str], str] = {}


def _built_text(node: ast.expr) -> str | None:
    """How an expression builds text from pieces, or None for a literal, a name or a loaded query."""
    if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
        return "f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "%-format"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return "concatenation"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return ".format()"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join":
        return "str.join"
    return None


def _assigned(scope: ast.AST) -> dict[str, list[ast.expr]]:
    """Every value assigned to each plain name in a scope (to follow `sql = f"..."; execute(sql)`)."""
    values: dict[str, list[ast.expr]] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = (
                node.value
                if not isinstance(node, ast.AugAssign)
                else ast.BinOp(node.target, node.op, node.value)
            )
            for target in targets:
                if isinstance(target, ast.Name):
                    values.setdefault(target.id, []).append(value)
    return values


def _sql_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg in ("query", "sql")), None)


def _enclosing_functions(tree: ast.Module) -> dict[ast.Call, ast.AST]:
    """Each call → the innermost function around it (the module for top-level code)."""
    owner: dict[ast.Call, ast.AST] = {}

    def visit(node: ast.AST, scope: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Call):
                owner[child] = scope
            visit(child, child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else scope)

    visit(tree, tree)
    return owner


def sql_violations(source: str, filename: str) -> list[str]:
    """`file:line function: how` for each database call whose SQL text is built by interpolation."""
    tree = ast.parse(source, filename)
    module_names = _assigned(tree)
    found = []
    for call, scope in _enclosing_functions(tree).items():
        if not isinstance(call.func, ast.Attribute) or call.func.attr not in SQL_CALLS:
            continue
        if (argument := _sql_argument(call)) is None:
            continue
        candidates = [argument]
        if isinstance(argument, ast.Name):
            candidates += _assigned(scope).get(argument.id, module_names.get(argument.id, []))
        name = getattr(scope, "name", "<module>")
        for how in filter(None, map(_built_text, candidates)):
            if (filename, name) not in SQL_ALLOW_LIST:
                found.append(f"{filename}:{call.lineno} {name}: SQL built by {how}")
    return sorted(set(found))


def test_sql_is_built_only_with_parameters(figure: Callable[..., None]) -> None:
    files = sorted([*(REPO / "daemon").rglob("*.py"), *(REPO / "reconcilers").rglob("*.py")])
    violations = [v for path in files for v in sql_violations(path.read_text(), str(path.relative_to(REPO)))]
    assert violations == []
    figure("6 security: SQL parameters", files_checked=len(files), interpolated=len(violations))


@pytest.mark.parametrize(
    ("snippet", "how"),
    [
        ('async def f(c, t):\n    await c.execute(f"DELETE FROM {t}")', "f-string"),
        ('async def f(c, t):\n    await c.fetch("SELECT * FROM %s" % t)', "%-format"),
        ('async def f(c, t):\n    await c.fetchval("SELECT " + t)', "concatenation"),
        ('async def f(c, t):\n    await c.fetchrow("SELECT {}".format(t))', ".format()"),
        ('async def f(c, t):\n    sql = f"SELECT {t}"\n    await c.executemany(sql, [])', "f-string"),
        ('async def f(c, t):\n    await c.execute(query=f"SELECT {t}")', "f-string"),
        ('async def f(c, t):\n    await c.execute(" ".join(["SELECT", t]))', "str.join"),
        ('async def f(c, t):\n    await c.copy_records_to_table(f"{t}_x", records=[])', "f-string"),
    ],
)
def test_the_sql_check_catches_each_kind_of_interpolation(snippet: str, how: str) -> None:
    assert sql_violations(snippet, "snippet.py") == [
        f"snippet.py:{snippet.count(chr(10)) + 1} f: SQL built by {how}"
    ]


def test_the_sql_check_accepts_parameters() -> None:
    snippet = 'async def f(c, t):\n    await c.execute("DELETE FROM x WHERE id = $1", t)'
    assert sql_violations(snippet, "snippet.py") == []
