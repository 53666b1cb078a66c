"""Fault case 5, bad input: hypothesis-generated bodies for every HTTP endpoint and every import format.

Wrong types, huge numbers, unicode (lone surrogates, NUL), truncated JSON, duplicate ids: never a 500
(nor an exception out of the import command), every refusal names the problem (field or FILE:LINE:
column) and changes nothing (every table's rows and content equal before and after). A signed request
replayed with its old timestamp is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from daemon import import_command
from daemon.config import Config, DatabaseConfig
from daemon.db.pool import Pool
from daemon.importer import KINDS
from daemon.web.context import SERVICES
from sandbox_store.server import sign_webhook
from tests.e2e.daemon_process import ADMIN_TOKEN, register_store
from tests.e2e.harness import CATALOG_SQL, TOKEN, WEBHOOK_SECRET
from tests.faults.app_client import Client, app_client, post_signed
from tests.secret_scan import leaked_names

FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)
FULL = settings(FAST, max_examples=300)
_TRIED: dict[str, int] = {}

# ---------------------------------------------------------------- the world the inputs are aimed at


async def seed(pool: Pool, credentials: Path) -> None:
    """Facilities, regions, two variants with stock and one sandbox store syncing them."""
    await pool.execute(CATALOG_SQL)
    await pool.execute("INSERT INTO variants VALUES ('tee', 'TEE', 'pod'), ('mug', 'MUG', 'pod')")
    await pool.execute(
        "INSERT INTO facility_stock (variant_id, facility_id, status) VALUES ('tee', 'us1', 'in_stock')"
    )
    (credentials / "s1-token").write_text(json.dumps({"token": TOKEN, "webhook_secret": WEBHOOK_SECRET}))
    settings_ = {"base_url": "http://127.0.0.1:9"}  # never contacted: refusals happen before any request
    await register_store(pool, "s1", "sandbox", "north_america", "s1-token", settings_, {"E-TEE": "tee"})


@pytest.fixture
async def client(pool: Pool, tmp_path: Path, figure: Callable[..., None]) -> Any:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    await seed(pool, credentials)
    async with app_client(pool, credentials) as test_client:
        yield test_client
    # reached only when every input so far passed: no 5xx, no write behind a refusal
    figure("5 bad input", **_TRIED, server_errors=0, partial_writes=0)


async def fingerprint(pool: Pool) -> dict[str, str]:
    """Every table's row count and an md5 of its sorted rows: any write shows up here."""
    tables = await pool.fetch(
        "SELECT quote_ident(table_name) AS name FROM information_schema.tables"
        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    digests = {}
    for table in tables:
        digests[table["name"]] = await pool.fetchval(
            f"SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), ''))"
            f" FROM {table['name']} t"
        )
    return digests


def count_try(case: str, accepted: bool) -> None:
    """Tally per case of what was tried and accepted; refusals are the rest."""
    for key in (f"{case} tried", f"{case} accepted") if accepted else (f"{case} tried",):
        _TRIED[key] = _TRIED.get(key, 0) + 1


# ---------------------------------------------------------------- strategies

LONG_ID = "".join(chr(0x4E00 + i % 20000) for i in range(3000))  # 9 kB that do not compress
HUGE = st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**40, -1, 1e308, 1e-310])
NASTY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["\x00", "\ud800", "é" * 300, "x" * 10_000, " ", "🦄", "1e999", "NaN", "-0", LONG_ID]
)
SCALARS = st.none() | st.booleans() | st.integers() | HUGE | st.floats() | NASTY_TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn, base: Mapping[str, Any]) -> dict[str, Any]:
    """A valid object with up to two fields replaced by any JSON value or dropped, maybe an unknown one."""
    value = dict(base)
    for name in draw(st.sets(st.sampled_from(sorted(base)), max_size=2)):
        if draw(st.booleans()):
            value[name] = draw(JSON_VALUES)
        else:
            del value[name]
    if draw(st.integers(0, 4)) == 0:
        value[draw(st.text(min_size=1, max_size=6))] = draw(JSON_VALUES)
    return value


@st.composite
def encoded(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> bytes:
    """A JSON document as bytes, sometimes truncated; or bytes that are not JSON (or not UTF-8) at all."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=40))
    body = json.dumps(draw(documents)).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 3)) == 0:
        return body[: draw(st.integers(0, max(0, len(body) - 1)))]
    return body


def with_duplicates(items: st.SearchStrategy[list[dict[str, Any]]], key: str) -> st.SearchStrategy[Any]:
    """A list where the last element may repeat the first one's id with other values."""

    def duplicate(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [*values, {**values[-1], key: values[0].get(key)}] if values else values

    return items | items.map(duplicate)


EVENT = {
    "event_id": "e1",
    "variant_id": "tee",
    "facility_id": "us1",
    "status": "out_of_stock",
    "quantity": None,
    "occurred_at": "2026-11-23T10:00:00Z",
}
EVENT_BATCHES = encoded(
    st.fixed_dictionaries(
        {"events": with_duplicates(st.lists(mutated(EVENT), min_size=1, max_size=4), "event_id")}
    )
    | st.fixed_dictionaries({"events": JSON_VALUES})
    | JSON_VALUES
)
CATALOG_BODIES = encoded(
    st.fixed_dictionaries({"variant_ids": JSON_VALUES | st.lists(NASTY_TEXT)}) | JSON_VALUES
)
ITEM = {"external_id": "E-TEE", "available": False, "quantity": None, "updated_at": "2026-11-23T10:00:00Z"}
STORE_NOTIFICATIONS = encoded(
    st.fixed_dictionaries(
        {"topic": st.just("item.updated") | JSON_VALUES, "item": mutated(ITEM) | JSON_VALUES}
    )
    | JSON_VALUES
)
URL_TEXT = st.text(max_size=30) | st.sampled_from(["\x00", "%00", "..", "a" * 5000, "s1\x00", "-1", "9" * 30])

# ---------------------------------------------------------------- the checks every answer must pass


async def refusal_changes_nothing(
    client: Client, case: str, send: Callable[[], Any], ok_statuses: set[int]
) -> None:
    """Send one input: no 5xx; an accepted one is fine; a refusal names its problem and wrote nothing."""
    pool = client.app[SERVICES].pool
    before = await fingerprint(pool)
    status, text = await send()
    count_try(case, status in ok_statuses)
    assert status < 500, (status, text[:300])
    assert leaked_names([text]) == []  # no answer, accepted or refused, quotes a secret
    if status in ok_statuses:
        return
    assert await fingerprint(pool) == before, f"refused with {status} but wrote: {text[:200]}"
    names_the_problem(status, text)


def names_the_problem(status: int, text: str) -> None:
    try:
        body = json.loads(text)
    except ValueError:  # an HTML page (drift pages) or aiohttp's own plain-text refusal
        assert text.strip(), status
        return
    assert isinstance(body, dict) and body.get("error"), text[:200]
    if status == 400:
        assert body.get("field"), text[:200]  # e.g. events[3].status


def post(client: Client, path: str, body: bytes, headers: dict[str, str] | None = None) -> Callable[[], Any]:
    async def send() -> tuple[int, str]:
        async with client.post(path, data=io.BytesIO(body), headers=headers or {}) as response:
            return response.status, await response.text()

    return send


def signed(client: Client, path: str, body: bytes) -> Callable[[], Any]:
    async def send() -> tuple[int, str]:
        return await post_signed(client, path, body)

    return send


def store_notification(client: Client, body: bytes) -> Callable[[], Any]:
    headers = {
        "Content-Type": "application/json",
        "X-Sandbox-Hmac-Sha256": sign_webhook(WEBHOOK_SECRET, body),
    }
    return post(client, "/v1/stores/s1/webhook", body, headers)


def as_admin(client: Client, method: str, path: str, form: dict[str, str] | None = None) -> Callable[[], Any]:
    async def send() -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with client.request(
            method, path, headers=headers, data=form, allow_redirects=False
        ) as response:
            return response.status, await response.text()

    return send


# ---------------------------------------------------------------- the HTTP endpoints, fast and full

EXAMPLE_EVENTS = json.dumps(
    {"events": [{**EVENT, "event_id": "\x00"}]}
).encode()  # NUL: PostgreSQL text refuses it


async def check_stock_events(client: Client, body: bytes) -> None:
    await refusal_changes_nothing(client, "stock-events", signed(client, "/v1/stock-events", body), {202})


@FAST
@given(body=EVENT_BATCHES)
@example(body=EXAMPLE_EVENTS)
async def test_stock_events_refuse_bad_bodies(client: Client, body: bytes) -> None:
    await check_stock_events(client, body)


@pytest.mark.faults
@FULL
@given(body=EVENT_BATCHES)
async def test_stock_events_refuse_bad_bodies_full(client: Client, body: bytes) -> None:
    await check_stock_events(client, body)


async def check_catalog_updated(client: Client, body: bytes) -> None:
    await refusal_changes_nothing(
        client, "catalog-updated", signed(client, "/v1/catalog-updated", body), {202}
    )


@FAST
@given(body=CATALOG_BODIES)
@example(body=b'{"variant_ids": ["\\u0000"]}')  # found: NUL reached PostgreSQL (500)
async def test_catalog_updates_refuse_bad_bodies(client: Client, body: bytes) -> None:
    await check_catalog_updated(client, body)


@pytest.mark.faults
@FULL
@given(body=CATALOG_BODIES)
async def test_catalog_updates_refuse_bad_bodies_full(client: Client, body: bytes) -> None:
    await check_catalog_updated(client, body)


async def check_store_notification(client: Client, body: bytes) -> None:
    await refusal_changes_nothing(client, "store webhook", store_notification(client, body), {200})


@FAST
@given(body=STORE_NOTIFICATIONS)
async def test_store_webhooks_refuse_bad_bodies(client: Client, body: bytes) -> None:
    await check_store_notification(client, body)


@pytest.mark.faults
@FULL
@given(body=STORE_NOTIFICATIONS)
async def test_store_webhooks_refuse_bad_bodies_full(client: Client, body: bytes) -> None:
    await check_store_notification(client, body)


def admin_requests(a: str, b: str) -> list[tuple[str, str, dict[str, str] | None]]:
    """Every admin and support route with two user-chosen texts in its path, query or form."""
    qa, qb = quote(a, safe=""), quote(b, safe="")
    return [
        ("GET", f"/v1/drift?status={qa}&store={qb}", None),
        ("GET", f"/v1/drift?limit={qa}&after={qb}&age={qb}", None),
        ("GET", f"/v1/stores/{qa}/variants/{qb}/history", None),
        ("POST", f"/v1/stores/{qa}/sync", None),
        ("GET", f"/drift?store={qa}&status={qb}&age={qa}", None),
        ("GET", f"/drift?limit={qb}&after={qa}&before={qb}", None),
        ("GET", f"/drift.csv?store={qb}&age={qb}", None),
        ("GET", f"/drift/export.csv?status={qa}&age={qa}", None),
        ("GET", f"/drift/stores/{qa}/variants/{qb}", None),
        ("POST", f"/drift/{qa}/accept", {"csrf": b, "back": a}),
        ("POST", "/drift/login", {"token": a}),
    ]


async def check_admin_routes(client: Client, a: str, b: str) -> None:
    for method, path, form in admin_requests(a, b):
        await refusal_changes_nothing(
            client, "admin routes", as_admin(client, method, path, form), {200, 202, 303}
        )


@FAST
@given(a=URL_TEXT, b=URL_TEXT)
@example(a="\x00", b="x")  # found: a NUL in a path or query parameter reached PostgreSQL (500)
async def test_admin_routes_refuse_bad_paths_queries_and_forms(client: Client, a: str, b: str) -> None:
    await check_admin_routes(client, a, b)


@pytest.mark.faults
@FULL
@given(a=URL_TEXT, b=URL_TEXT)
async def test_admin_routes_refuse_bad_paths_queries_and_forms_full(client: Client, a: str, b: str) -> None:
    await check_admin_routes(client, a, b)


async def test_a_replayed_signed_request_is_refused(client: Client, figure: Callable[..., None]) -> None:
    body = json.dumps({"events": [EVENT]}).encode()
    old = int(time.time()) - 301  # captured more than five minutes ago, replayed now
    replays = [
        lambda: post_signed(client, "/v1/stock-events", body, timestamp=old),
        lambda: post_signed(client, "/v1/stock-events", body, timestamp=int(time.time()) + 301),
        lambda: post_signed(client, "/v1/catalog-updated", b"", timestamp=old),
    ]
    for replay in replays:
        await refusal_changes_nothing(client, "replays", replay, set())
    accepted = [await post_signed(client, "/v1/stock-events", body)]  # the same body, fresh: accepted
    assert accepted[0][0] == 202
    figure("5 bad input: replay", tried=len(replays), accepted=0)


# ---------------------------------------------------------------- import files, every kind and format

IMPORT_ROWS: dict[str, dict[str, Any]] = {
    "facilities": {"id": "f9", "country": "US", "name": "Nine"},
    "regions": {"region": "north_america", "facility_id": "us1"},
    "variants": {"id": "v9", "sku": "V9", "kind": "pod"},
    "stock": {"variant_id": "tee", "facility_id": "ca1", "status": "in_stock", "quantity": ""},
    "stores": {
        "id": "s9",
        "platform": "sandbox",
        "region": "europe",
        "drift_policy": "protect",
        "mode": "status",
        "safety_buffer": "0",
        "credential": "s9-token",
        "settings": "{}",
    },
    "mappings": {"store_id": "s1", "external_id": "E-MUG", "variant_id": "mug"},
    "sources": {
        "id": "feed9",
        "kind": "http_feed",
        "credential": "",
        "settings": '{"url": "https://feed.example.test/stock.json"}',
        "facilities": "us1 ca1",
    },
    "source-mappings": {"source_id": "feed9", "external_id": "UP-MUG", "variant_id": "mug"},
}
IMPORT_KEYS = {
    "facilities": "id",
    "regions": "facility_id",
    "variants": "id",
    "stock": "facility_id",
    "stores": "id",
    "mappings": "external_id",
    "sources": "id",
    "source-mappings": "external_id",
}
REFUSAL_LINE = re.compile(r"^\S.*?: .+: .+")  # FILE:LINE: column: reason (or FILE: file: reason)


def csv_cell(value: Any) -> str:
    text = value if isinstance(value, str) else ("" if value is None else json.dumps(value))
    return '"' + text.replace('"', '""') + '"'


def csv_text(rows: list[dict[str, Any]]) -> str:
    header = list(dict.fromkeys(name for row in rows for name in row))
    lines = [",".join(map(csv_cell, header))]
    lines += [",".join(csv_cell(row.get(name)) for name in header) for row in rows]
    return "\n".join(lines) + "\n"


@st.composite
def import_files(draw: st.DrawFn, kind: str) -> tuple[str, bytes]:
    """(suffix, content): mutated rows with possible duplicate keys as CSV or JSON, or broken bytes."""
    rows = draw(
        with_duplicates(st.lists(mutated(IMPORT_ROWS[kind]), min_size=1, max_size=3), IMPORT_KEYS[kind])
    )
    if draw(st.booleans()):
        return ".json", draw(encoded(st.just(rows) | JSON_VALUES))
    if draw(st.integers(0, 5)) == 0:
        return ".csv", draw(st.binary(max_size=30))
    return ".csv", csv_text(rows).encode("utf-8", "surrogatepass")


async def run_import(dsn: str, kind: str, path: Path) -> tuple[int, str]:
    """`stocksync import KIND FILE` in process: (exit status, stderr)."""
    errors = io.StringIO()
    config = Config(database=DatabaseConfig(dsn=dsn, pool_min=1, pool_max=1))
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        status = await import_command.run(argparse.Namespace(kind=kind, file=path), config)
    return status, errors.getvalue()


async def check_import(pool: Pool, dsn: str, directory: Path, kind: str, file: tuple[str, bytes]) -> None:
    suffix, content = file
    path = directory / f"{kind}{suffix}"
    path.write_bytes(content)
    before = await fingerprint(pool)
    status, stderr = await run_import(dsn, kind, path)
    count_try(f"import {suffix[1:]}", status == 0)
    assert status in (0, 2), stderr
    if status == 2:
        assert REFUSAL_LINE.match(stderr) and stderr.startswith(str(path)), stderr[:300]
        assert await fingerprint(pool) == before, f"refused but wrote: {stderr[:200]}"


@pytest.fixture
async def importing(pool: Pool, tmp_path: Path, client: Client, db_dsn: str) -> tuple[Pool, str, Path]:
    """The seeded database (through `client`), its DSN and a directory for the files."""
    return pool, db_dsn, tmp_path


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(data=st.data())
async def test_imports_refuse_bad_files(
    importing: tuple[Pool, str, Path], kind: str, data: st.DataObject
) -> None:
    await check_import(*importing, kind, data.draw(import_files(kind)))


@pytest.mark.faults
@pytest.mark.parametrize("kind", KINDS)
@FULL
@given(data=st.data())
async def test_imports_refuse_bad_files_full(
    importing: tuple[Pool, str, Path], kind: str, data: st.DataObject
) -> None:
    await check_import(*importing, kind, data.draw(import_files(kind)))


@pytest.mark.parametrize(
    "file",
    [(".json", b'[{"\\n": null}]'), (".csv", b'"id","\n"\n"v1",""\n'), (".json", b'[{"": 1}]')],
)
async def test_imports_found_by_fuzzing(importing: tuple[Pool, str, Path], file: tuple[str, bytes]) -> None:
    # found: an unknown column named by a newline or nothing made a refusal that did not say which column
    await check_import(*importing, "variants", file)


@pytest.mark.parametrize(
    ("kind", "file"),
    [
        ("regions", (".csv", b'"region","facility_id"\n"north_america","\x00"\n')),
        ("stores", (".json", json.dumps([IMPORT_ROWS["stores"] | {"settings": {"k": "\x00"}}]).encode())),
    ],
)
async def test_import_nul_found_by_fuzzing(
    importing: tuple[Pool, str, Path], kind: str, file: tuple[str, bytes]
) -> None:
    # found: a NUL in a cell or in settings reached PostgreSQL and crashed the import command
    await check_import(*importing, kind, file)


STORE_ROW = IMPORT_ROWS["stores"]


@pytest.mark.parametrize(
    ("kind", "file"),
    [
        ("variants", (".csv", f"id,sku,kind\n{LONG_ID},V,pod\n".encode())),
        ("mappings", (".csv", f"store_id,external_id,variant_id\ns1,{LONG_ID},mug\n".encode())),
        ("stores", (".csv", csv_text([STORE_ROW | {"settings": '{"requests_per_second": NaN}'}]).encode())),
        ("stores", (".csv", csv_text([STORE_ROW | {"settings": '{"x": Infinity}'}]).encode())),
        (
            "stores",
            (
                ".json",
                b'[{"id": "s9", "platform": "sandbox", "region": "europe", "drift_policy": "",'
                b' "mode": "", "safety_buffer": 0, "credential": "t", "settings": {"x": -Infinity}}]',
            ),
        ),
        ("stores", (".csv", csv_text([STORE_ROW | {"settings": '{"x": 1e999}'}]).encode())),
        ("stores", (".csv", csv_text([STORE_ROW | {"settings": '{"x": ' + "9" * 5000 + "}"}]).encode())),
        ("stores", (".csv", csv_text([STORE_ROW | {"settings": "[" * 100_000 + "]" * 100_000}]).encode())),
        ("variants", (".json", b'[{"id": "v9", "sku": "A", "kind": "pod", "sku": "B"}]')),
        ("variants", (".json", b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]")),
        ("variants", (".csv", b"id,skew,kind\n")),
    ],
)
async def test_import_values_only_postgresql_refuses(
    importing: tuple[Pool, str, Path], kind: str, file: tuple[str, bytes]
) -> None:
    # found: ids over PostgreSQL's index row size and NaN/Infinity in settings (which jsonb refuses)
    # crashed the import with a traceback and exit 1; a duplicate JSON key kept one value silently; a
    # header-only file with a misspelt column imported nothing without a word
    pool, dsn, directory = importing
    path = directory / f"{kind}{file[0]}"
    path.write_bytes(file[1])
    before = await fingerprint(pool)
    status, stderr = await run_import(dsn, kind, path)
    assert status == 2 and REFUSAL_LINE.match(stderr) and stderr.startswith(f"{path}:"), stderr[:300]
    assert "Traceback" not in stderr and stderr.count("\n") == 1
    assert await fingerprint(pool) == before
