"""Fault case 5, bad input, the whole surface: every route the app serves (found from its router, so a
new route is fuzzed without being listed here) with arbitrary Unicode in its path, query, headers,
cookies and form fields — signed in with a session cookie and its CSRF token (the browser path), with
the bearer token, and as nobody; every registered platform's webhook parser (from the registry and the
contract adapters, so a new platform is fuzzed once it has an adapter) with arbitrary JSON; and JSON
nested deeper than Python's parser goes or with numbers of thousands of digits. Never a 500; a refusal
names its problem and writes nothing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import reconcilers
from daemon.db.pool import Pool
from daemon.db.stores import load_store
from daemon.errors import InputError
from daemon.web import sessions
from daemon.web.context import SERVICES
from tests.contract.platforms import ADAPTERS, PlatformAdapter
from tests.e2e.daemon_process import ADMIN_TOKEN, register_store
from tests.faults.app_client import Client, app_client, post_signed
from tests.faults.test_bad_input import (
    FAST,
    FULL,
    JSON_VALUES,
    NASTY_TEXT,
    count_try,
    encoded,
    refusal_changes_nothing,
    seed,
)

# ---------------------------------------------------------------- inputs

UNICODE = st.text(st.characters(codec=None, exclude_categories=()), max_size=20) | NASTY_TEXT
# What an HTTP client can put in a header at all: latin-1 without CR/LF (aiohttp refuses the rest).
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
) | st.sampled_from(["", " ", "Bearer ", "Bearer " + "x" * 5000, "sha256=", "0" * 300, "é"])
DEEP = [b"[" * n + b"]" * n for n in (1_000, 100_000)] + [b'{"a":' * 50_000 + b"1" + b"}" * 50_000]
BIG_NUMBERS = [
    b"9" * 5_000,
    b'{"events": [{"quantity": ' + b"9" * 5_000 + b"}]}",
    b"1e999999",
    b"-0.0e-99999",
]


class Caller:
    """Who sends a request: nobody, a script with the bearer token, or a browser with a session."""

    def __init__(self, kind: str, session: str, csrf: str) -> None:
        self.kind, self.session, self.csrf = kind, session, csrf

    def headers(self, extra: dict[str, str], cookie: str) -> dict[str, str]:
        headers = dict(extra)
        if self.kind == "bearer":
            headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        if self.kind == "session":
            headers["Cookie"] = f"{sessions.COOKIE}={self.session}; {cookie}"
        elif cookie:
            headers["Cookie"] = cookie
        return headers


def callers() -> list[Caller]:
    session = sessions.new_session(ADMIN_TOKEN, time.time())
    csrf = sessions.csrf_token(ADMIN_TOKEN, session)
    return [Caller(kind, session, csrf) for kind in ("nobody", "bearer", "session")]


def q(text: str) -> str:
    """Percent-encoded as a sloppy client would, lone surrogates included."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def fill(path_template: str, texts: list[str]) -> str:
    """A route's path with each {placeholder} replaced by fuzz text (a regex-constrained one too)."""
    parts = iter(texts)
    return re.sub(r"\{[^}]+\}", lambda _: q(next(parts, "x")), path_template)


def routes(client: Client) -> list[tuple[str, str]]:
    """(method, path template) of every route the daemon serves: new routes join by existing."""
    found = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.method in ("GET", "POST", "PUT", "DELETE", "PATCH") and route.resource is not None
    }
    return sorted(found)


@pytest.fixture
async def client(pool: Pool, tmp_path: Path, figure: Callable[..., None]) -> AsyncIterator[Client]:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    await seed(pool, credentials)
    async with app_client(pool, credentials) as test_client:
        yield test_client
    figure("5 bad input: surface", **{k: v for k, v in _tally().items()}, server_errors=0)


def _tally() -> dict[str, int]:
    from tests.faults import test_bad_input

    return {k: v for k, v in test_bad_input._TRIED.items() if k.startswith(("route", "parser", "deep"))}


# ---------------------------------------------------------------- every route, every part of a request


def test_every_route_can_be_picked() -> None:
    # the fast profile tries 25 (route, caller) picks at random; the full one several hundred, so
    # every route is reached there (see the figure "routes (...) tried")
    assert FULL.max_examples >= 10 * FAST.max_examples


async def check_route(
    client: Client, pick: int, texts: list[str], header: str, cookie: str, form_key: str
) -> None:
    """One route and one caller (chosen by `pick`) with fuzz in every part of the request."""
    every = [(route, caller) for route in routes(client) for caller in callers()]
    (method, template), caller = every[pick % len(every)]
    url = (
        fill(template, texts)
        + "?"
        + "&".join(f"{q(k)}={q(v)}" for k, v in zip(texts, texts[1:], strict=False))
    )
    extra = {"X-Anything": header, "X-Forwarded-Proto": header}
    form = None
    if method == "POST":
        fields = {"csrf": caller.csrf if texts[0] == "" else texts[0], form_key: texts[-1]}
        fields |= {"confirm": "yes", "token": texts[1]}
        form = "&".join(f"{q(k)}={q(v)}" for k, v in fields.items()).encode()
        extra["Content-Type"] = "application/x-www-form-urlencoded"
    headers = caller.headers(extra, cookie)

    async def send() -> Any:
        async with client.request(method, url, data=form, headers=headers, allow_redirects=False) as response:
            return response.status, await response.text()

    await refusal_changes_nothing(client, f"routes ({caller.kind})", send, {200, 202, 303})


ROUTE_INPUTS = dict(
    pick=st.integers(0, 10_000),
    texts=st.lists(UNICODE, min_size=2, max_size=4),
    header=HEADER_TEXT,
    cookie=HEADER_TEXT,
    form_key=UNICODE,
)


@FAST
@given(**ROUTE_INPUTS)
@example(pick=0, texts=["", "\x00"], header="Bearer ", cookie=f"{sessions.COOKIE}=", form_key="csrf")
@example(pick=5, texts=["\ud800", "1"], header="é", cookie=f"{sessions.COOKIE}=\xe9\xff", form_key="back")
async def test_every_route_refuses_bad_paths_queries_headers_cookies_and_forms(
    client: Client, pick: int, texts: list[str], header: str, cookie: str, form_key: str
) -> None:
    await check_route(client, pick, texts, header, cookie, form_key)


@pytest.mark.faults
@FULL
@given(**ROUTE_INPUTS)
async def test_every_route_refuses_bad_paths_queries_headers_cookies_and_forms_full(
    client: Client, pick: int, texts: list[str], header: str, cookie: str, form_key: str
) -> None:
    await check_route(client, pick, texts, header, cookie, form_key)


# ---------------------------------------------------------------- every platform's webhook parser


def test_every_registered_platform_is_fuzzed() -> None:
    assert set(reconcilers.known_platforms()) <= set(ADAPTERS)


@pytest.fixture(params=sorted(ADAPTERS))
async def platform_store(
    request: pytest.FixtureRequest, client: Client, pool: Pool, tmp_path: Path
) -> AsyncIterator[tuple[Client, PlatformAdapter, str]]:
    """A store of this platform pointed at its local fake, with item 1 synced."""
    adapter = ADAPTERS[request.param]()
    await adapter.start()
    try:
        store_id = f"fz-{adapter.name}"
        (tmp_path / "credentials" / store_id).write_text(adapter.credential().reveal())
        adapter.seed(1, 5)
        await register_store(
            pool,
            store_id,
            adapter.name,
            "north_america",
            store_id,
            adapter.settings(),
            {adapter.external_id(1): "tee"},
        )
        yield client, adapter, store_id
    finally:
        await adapter.stop()


async def check_parser(platform_store: tuple[Client, PlatformAdapter, str], body: bytes) -> None:
    """The parser itself (past the signature) and the route (signature first) on one fuzzed body."""
    client, adapter, store_id = platform_store
    services = client.app[SERVICES]
    reconciler = services.engine.reconciler_for(await load_store(services.pool, store_id))
    try:
        headers = dict(adapter.webhook(1, 3).headers)  # a real notification's headers, a fuzzed body
    except (NotImplementedError, AssertionError):  # a platform that sends none: the route must refuse
        headers = {"Content-Type": "application/json"}
    else:
        try:
            reconciler.parse_webhook(headers, body)
            count_try(f"parser {adapter.name}", True)
        except InputError as exc:  # the route answers it 400 naming the field
            count_try(f"parser {adapter.name}", False)
            assert exc.field and exc.reason

    async def send() -> Any:
        async with client.post(f"/v1/stores/{store_id}/webhook", data=body, headers=headers) as response:
            return response.status, await response.text()

    await refusal_changes_nothing(client, f"parser {adapter.name} route", send, {200})


WEBHOOK_BODIES = encoded(JSON_VALUES) | st.sampled_from([*DEEP, *BIG_NUMBERS])


@FAST
@given(body=WEBHOOK_BODIES)
@example(body=DEEP[1])
@example(body=BIG_NUMBERS[0])
async def test_every_platforms_webhook_parser_refuses_bad_bodies(
    platform_store: tuple[Client, PlatformAdapter, str], body: bytes
) -> None:
    await check_parser(platform_store, body)


@pytest.mark.faults
@FULL
@given(body=WEBHOOK_BODIES)
async def test_every_platforms_webhook_parser_refuses_bad_bodies_full(
    platform_store: tuple[Client, PlatformAdapter, str], body: bytes
) -> None:
    await check_parser(platform_store, body)


# ---------------------------------------------------------------- nesting depth and number size


@pytest.mark.parametrize("body", [*DEEP, *BIG_NUMBERS], ids=lambda b: f"{b[:12]!r}…{len(b)}")
@pytest.mark.parametrize("path", ["/v1/stock-events", "/v1/catalog-updated"])
async def test_signed_json_too_deep_or_too_large_a_number_is_refused(
    client: Client, path: str, body: bytes
) -> None:
    async def send() -> Any:
        return await post_signed(client, path, body)

    await refusal_changes_nothing(client, "deep json", send, set())
    status, text = await send()
    assert 400 <= status < 500 and json.loads(text)["error"], (status, text[:200])


@pytest.mark.parametrize(
    "path", ["/drift/1/accept", "/drift/1/reapply", "/drift/stores/s1/variants/E-TEE/resume"]
)
async def test_a_non_ascii_csrf_token_is_refused_not_a_500(client: Client, path: str) -> None:
    # found by the route fuzzing: hmac.compare_digest raises on non-ASCII text, so a browser session
    # posting csrf="\x80" got a 500
    caller = callers()[2]
    headers = caller.headers({"Content-Type": "application/x-www-form-urlencoded"}, "")

    async def send() -> Any:
        async with client.post(path, data=b"csrf=%C2%80&confirm=yes", headers=headers) as response:
            return response.status, await response.text()

    await refusal_changes_nothing(client, "routes (session)", send, set())
    assert (await send())[0] == 403
