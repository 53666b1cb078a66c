"""The shared transport: retries, Retry-After, error mapping, observer, and no secret in any message.

Waits that matter (Retry-After, retry_if) run on the virtual-time loop from test_ratelimit.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
import yarl
from aioresponses import aioresponses

from reconcilers.ratelimit import LeakyBucketPacer, Pacer
from reconcilers.transport import (
    AuthError,
    PermanentError,
    RequestRecord,
    Response,
    RetryPolicy,
    TemporaryError,
    Transport,
    parse_retry_after,
)
from tests.reconcilers.test_ratelimit import run_virtual

URL = "https://shop.example.test/api/items"


def transport(session: aiohttp.ClientSession, records: list[RequestRecord] | None = None) -> Transport:
    return Transport(
        session,
        platform="test",
        store_id="s1",
        pacer=LeakyBucketPacer(1000, 1000),
        retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01),
        observer=records.append if records is not None else None,
    )


async def test_json_body_is_parsed_and_url_has_no_query(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(r".*/api/items.*"), payload={"items": [1]}, headers={"X-Test": "1"})
        response = await transport(session).request("GET", URL, params={"consumer_key": "SECRET"})
    assert response.body == {"items": [1]} and response.headers["x-test"] == "1"
    assert "SECRET" not in response.url and response.url.endswith("/api/items")


async def test_empty_body_is_none(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(URL, status=204, body=b"")
        assert (await transport(session).request("POST", URL)).body is None


async def test_429_honours_retry_after_then_succeeds(session: aiohttp.ClientSession) -> None:
    records: list[RequestRecord] = []
    pacer = LeakyBucketPacer(1000, 1000)
    t = Transport(
        session,
        platform="test",
        store_id="s1",
        pacer=pacer,
        retry=RetryPolicy(3, 0.001),
        observer=records.append,
    )
    with aioresponses() as mocked:
        mocked.get(URL, status=429, headers={"Retry-After": "0"})
        mocked.get(URL, payload={"ok": True})
        assert (await t.request("GET", URL)).body == {"ok": True}
    assert [r.outcome for r in records] == ["throttled", "ok"]
    assert [r.attempt for r in records] == [0, 1]


async def test_5xx_retried_then_exhausted(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        for _ in range(3):
            mocked.get(URL, status=503, body=b"busy")
        with pytest.raises(TemporaryError, match=r"GET /api/items: HTTP 503 after 3 attempts") as caught:
            await transport(session).request("GET", URL)
    assert caught.value.status == 503


async def test_timeout_is_retried(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, exception=TimeoutError())
        mocked.get(URL, payload=[1])
        assert (await transport(session).request("GET", URL)).body == [1]


async def test_400_is_permanent_with_the_platform_message(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(URL, status=400, payload={"message": "quantity must be >= 0"})
        with pytest.raises(PermanentError, match="POST /api/items: HTTP 400: quantity must be >= 0"):
            await transport(session).request("POST", URL, json={})


async def test_a_refused_request_keeps_the_parsed_answer_for_the_platform(
    session: aiohttp.ClientSession,
) -> None:
    answer = {"errors": [{"code": "INVALID_VALUE", "field": "changes[1].physical_count.quantity"}]}
    with aioresponses() as mocked:
        mocked.post(URL, status=400, payload=answer)
        with pytest.raises(PermanentError) as refused:
            await transport(session).request("POST", URL, json={})
    assert refused.value.body == answer


async def test_placeholders_are_filled_from_the_parameters_sent_beside_them(
    session: aiohttp.ClientSession,
) -> None:
    denied = {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": "Acl::x"},
    }
    refused = {
        "message": "Validation Failed",
        "errors": [
            {"message": '"%field" can not be empty.', "parameters": {"field": "sku"}},
            {"message": "Source %1 has no %2.", "parameters": ["eu", ["nested"]]},
        ],
    }
    with aioresponses() as mocked:
        mocked.post(URL, status=401, payload=denied)
        mocked.post(URL, status=400, payload=refused)
        with pytest.raises(AuthError, match="access Acl::x[.]"):
            await transport(session).request("POST", URL, json={})
        with pytest.raises(PermanentError) as caught:
            await transport(session).request("POST", URL, json={})
    assert str(caught.value).endswith(
        'HTTP 400: Validation Failed ("sku" can not be empty.; Source eu has no %2.)'
    )


async def test_401_is_auth_error_and_not_retried(session: aiohttp.ClientSession) -> None:
    records: list[RequestRecord] = []
    with aioresponses() as mocked:
        mocked.get(URL, status=401, payload={"error": "invalid token"})
        with pytest.raises(AuthError):
            await transport(session, records).request(
                "GET", URL, headers={"Authorization": "Bearer TOPSECRET"}
            )
    assert [r.outcome for r in records] == ["auth_error"]


async def test_invalid_json_is_retried_then_temporary(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        for _ in range(3):
            mocked.get(URL, status=200, body=b"{broken")
        with pytest.raises(TemporaryError, match="unparseable JSON"):
            await transport(session).request("GET", URL)


async def test_retry_if_hook_retries_a_throttled_200(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(URL, payload={"errors": [{"extensions": {"code": "THROTTLED"}}]})
        mocked.post(URL, payload={"data": {"ok": True}})
        response = await transport(session).request(
            "POST", URL, retry_if=lambda r: 0.0 if "errors" in r.body else None
        )
    assert response.body == {"data": {"ok": True}}


async def test_secrets_never_in_error_text(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(r".*"), status=404, body=b"not here")
        with pytest.raises(PermanentError) as caught:
            await transport(session).request(
                "GET", URL + "?consumer_key=ck_SECRET", headers={"X-Access-Token": "TOKEN_SECRET"}
            )
    assert "SECRET" not in str(caught.value)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)


class RecordingPacer:
    """Lets everything through and remembers what the transport told it."""

    def __init__(self) -> None:
        self.costs: list[float] = []
        self.fed: list[int] = []
        self.penalties: list[float] = []

    async def acquire(self, cost: float = 1.0) -> None:
        self.costs.append(cost)

    def feed(self, response: Response) -> None:
        self.fed.append(response.status)

    def penalize(self, delay_s: float) -> None:
        self.penalties.append(delay_s)

    def after_throttle(self, attempt: int) -> float | None:
        return None


def on(
    session: aiohttp.ClientSession, pacer: Pacer, records: list[RequestRecord], **retry: float
) -> Transport:
    policy = RetryPolicy(**{"attempts": 4, "base_delay": 0.001, "max_delay": 0.01, **retry})  # type: ignore[arg-type]
    return Transport(
        session, platform="test", store_id="s1", pacer=pacer, retry=policy, observer=records.append
    )


async def test_5xx_then_success_counts_attempts_and_feeds_every_answer(
    session: aiohttp.ClientSession,
) -> None:
    pacer, records = RecordingPacer(), list[RequestRecord]()
    with aioresponses() as mocked:
        mocked.put(URL, status=500, body=b"oops")
        mocked.put(URL, status=502, body=b"")
        mocked.put(URL, payload={"done": True})
        response = await on(session, pacer, records).request("PUT", URL, json={"a": 1}, cost=3)
    assert response.body == {"done": True}
    assert [(r.attempt, r.status, r.outcome) for r in records] == [
        (0, 500, "server_error"),
        (1, 502, "server_error"),
        (2, 200, "ok"),
    ]
    assert all(r.platform == "test" and r.store_id == "s1" and r.method == "PUT" for r in records)
    assert pacer.costs == [3, 3, 3]  # the pacer is asked before every attempt
    assert pacer.fed == [500, 502, 200] and pacer.penalties == []


async def test_connection_errors_are_retried_then_temporary(session: aiohttp.ClientSession) -> None:
    records: list[RequestRecord] = []
    with aioresponses() as mocked:
        for _ in range(4):
            mocked.get(URL, exception=aiohttp.ClientConnectionError("reset by shop.example.test"))
        with pytest.raises(TemporaryError, match=r"GET /api/items: ClientConnectionError after 4 attempts"):
            await on(session, RecordingPacer(), records).request("GET", URL)
    assert [r.outcome for r in records] == ["network_error"] * 4 and records[0].status is None


async def test_429_without_retry_after_penalizes_with_backoff_until_exhausted(
    session: aiohttp.ClientSession,
) -> None:
    pacer, records = RecordingPacer(), list[RequestRecord]()
    with aioresponses() as mocked:
        for _ in range(4):
            mocked.get(URL, status=429, payload={"message": "slow down"})
        with pytest.raises(TemporaryError, match="HTTP 429") as caught:
            await on(session, pacer, records).request("GET", URL)
    assert caught.value.status == 429
    assert caught.value.retry_after == pacer.penalties[-1]  # the last wait asked for is reported
    assert len(pacer.penalties) == 4 and all(0 <= p <= 0.01 for p in pacer.penalties)
    assert [r.outcome for r in records] == ["throttled"] * 4


async def test_retry_after_is_capped(session: aiohttp.ClientSession) -> None:
    pacer: RecordingPacer = RecordingPacer()
    with aioresponses() as mocked:
        mocked.get(URL, status=429, headers={"Retry-After": "3600"})
        with pytest.raises(TemporaryError) as caught:
            await on(session, pacer, [], attempts=1, max_retry_after=0.05).request("GET", URL)
    assert pacer.penalties == [0.05] and caught.value.retry_after == 0.05


def test_429_retry_after_pauses_only_that_store() -> None:
    async def main() -> dict[str, float]:
        done: dict[str, float] = {}
        async with aiohttp.ClientSession() as s:
            throttled = Transport(s, platform="test", store_id="a", pacer=LeakyBucketPacer(100, 10))
            other = Transport(s, platform="test", store_id="b", pacer=LeakyBucketPacer(100, 10))

            async def call(name: str, transport: Transport, url: str, delay: float = 0.0) -> None:
                await asyncio.sleep(delay)
                await transport.request("GET", url)
                done[name] = asyncio.get_running_loop().time()

            with aioresponses() as mocked:
                mocked.get("https://a.test/x", status=429, headers={"Retry-After": "1"})
                mocked.get("https://a.test/x", payload={})
                mocked.get("https://a.test/y", payload={})
                mocked.get("https://b.test/z", payload={})
                await asyncio.gather(
                    call("a retried", throttled, "https://a.test/x"),
                    call("a other", throttled, "https://a.test/y", delay=0.5),  # asked during the pause
                    call("b", other, "https://b.test/z", delay=0.5),
                )
        return done

    done = run_virtual(main)
    assert done["a retried"] == pytest.approx(1.0)
    assert done["a other"] == pytest.approx(1.0)  # held by the store's pause, not only the 429'd call
    assert done["b"] == pytest.approx(0.5)  # another store is never held


def test_503_retry_after_is_honoured_and_retry_if_delay_is_slept() -> None:
    async def main() -> tuple[float, list[RequestRecord]]:
        records: list[RequestRecord] = []
        async with aiohttp.ClientSession() as s:
            t = on(s, RecordingPacer(), records)
            with aioresponses() as mocked:
                mocked.post(URL, status=503, headers={"Retry-After": "2"})
                mocked.post(URL, payload={"throttled": True})
                mocked.post(URL, payload={"throttled": False})
                await t.request("POST", URL, retry_if=lambda r: 0.5 if r.body["throttled"] else None)
        return asyncio.get_running_loop().time(), records

    finished, records = run_virtual(main)
    assert finished == pytest.approx(2.5)
    assert [r.outcome for r in records] == ["server_error", "throttled", "ok"]


async def test_platform_text_never_echoes_what_the_request_carried(session: aiohttp.ClientSession) -> None:
    echo = "invalid consumer_key ck_0123456789abcdef / secret cs_fedcba9876543210 / token tok_ABCDEFGH"
    with aioresponses() as mocked:
        mocked.get(re.compile(r".*"), status=401, payload={"message": echo})
        mocked.get(re.compile(r".*"), status=422, body=f"<html>  {echo}\n</html>".encode())
        for status in (401, 422):
            with pytest.raises(PermanentError) as caught:
                await on(session, RecordingPacer(), []).request(
                    "GET",
                    "https://user:pw_SECRETPW@shop.example.test/api/items?consumer_key=ck_0123456789abcdef",
                    params={"extra": "tok_ABCDEFGH"},
                    auth=aiohttp.BasicAuth("someone", "cs_fedcba9876543210"),
                )
            text = str(caught.value)
            assert text.startswith(f"GET /api/items: HTTP {status}: ")
            for secret in ("ck_0123456789abcdef", "cs_fedcba9876543210", "tok_ABCDEFGH", "SECRETPW"):
                assert secret not in text
            assert "invalid consumer_key ***" in text


async def test_client_error_message_is_short_and_on_one_line(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(URL, status=422, payload={"message": "quantity must be\n\t a number; " * 50})
        with pytest.raises(PermanentError) as caught:
            await on(session, RecordingPacer(), []).request("POST", URL, json={})
    detail = str(caught.value).split("HTTP 422: ", 1)[1]
    assert (
        len(detail) == 200 and "\n" not in detail and detail.startswith("quantity must be a number; quantity")
    )
    assert caught.value.status == 422 and not isinstance(caught.value, AuthError)


async def test_403_is_auth_error(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, status=403, payload={"errors": "missing scope write_inventory"})
        with pytest.raises(AuthError, match="HTTP 403: missing scope write_inventory"):
            await on(session, RecordingPacer(), []).request("GET", URL)


async def test_response_url_has_no_user_info_query_or_fragment(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(r".*"), payload={})
        response = await on(session, RecordingPacer(), []).request(
            "GET", "https://key:SECRET@shop.example.test:8443/api/items?consumer_secret=SECRET#frag"
        )
    assert response.url == "https://shop.example.test:8443/api/items"


def test_retry_policy_needs_an_attempt_and_backoff_is_bounded() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    assert all(0 <= policy.backoff(n) <= min(4.0, 2.0**n) for n in range(8) for _ in range(20))


def test_retry_after_edge_cases() -> None:
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("nan") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412500.0) == 0.0  # in the past
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000", now=1445412470.0) is None  # no zone


async def test_a_deeply_nested_answer_is_a_bad_body_not_a_crash(session: aiohttp.ClientSession) -> None:
    records: list[RequestRecord] = []
    with aioresponses() as mocked:
        mocked.get(URL, body=b"[" * 200_000 + b"]" * 200_000, repeat=True)
        with pytest.raises(TemporaryError, match="unparseable"):
            await transport(session, records).request("GET", URL)
    assert [r.outcome for r in records] == ["bad_body"] * 3


def _quota(response: Response) -> float | None:
    body = response.body
    if isinstance(body, dict) and body.get("error") == "hour_api_limit":
        return 0.0 if body.get("soon") else 3_000.0
    return None


async def test_throttled_if_makes_a_4xx_a_throttle_signal(session: aiohttp.ClientSession) -> None:
    records: list[RequestRecord] = []
    with aioresponses() as mocked:
        mocked.get(URL, status=400, payload={"error": "hour_api_limit", "soon": True})
        mocked.get(URL, payload={"ok": True})
        response = await transport(session, records).request("GET", URL, throttled_if=_quota)
    assert response.body == {"ok": True}
    assert [r.outcome for r in records] == ["throttled", "ok"]


async def test_throttled_if_far_wait_is_temporary_and_other_4xx_stay_permanent(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, status=400, payload={"error": "hour_api_limit"})
        with pytest.raises(TemporaryError) as caught:
            await transport(session).request("GET", URL, throttled_if=_quota)
        assert caught.value.retry_after == 3_000.0 and caught.value.status == 400
        mocked.get(URL, status=400, payload={"error": "bad_params"})
        with pytest.raises(PermanentError):
            await transport(session).request("GET", URL, throttled_if=_quota)
    assert len(mocked.requests[("GET", yarl.URL(URL))]) == 2


async def test_a_redirect_to_another_host_is_refused_and_never_followed(
    session: aiohttp.ClientSession,
) -> None:
    """Platforms send their token in their own headers, which a client forwards on any redirect."""
    with aioresponses() as mocked:
        mocked.get(URL, status=302, headers={"Location": "https://collector.example.net/steal"})
        mocked.get("https://collector.example.net/steal", payload={"got": "your token"})
        with pytest.raises(PermanentError, match="redirect to https://collector.example.net refused"):
            await transport(session).request("GET", URL, headers={"X-Access-Token": "tok-123456789"})
        hosts = {url.host for _, url in mocked.requests}
    assert hosts == {"shop.example.test"}


async def test_a_redirect_within_the_platform_s_host_is_followed(session: aiohttp.ClientSession) -> None:
    moved = "https://shop.example.test/api/v2/items"
    with aioresponses() as mocked:
        mocked.put(URL, status=307, headers={"Location": "/api/v2/items"})
        mocked.put(moved, payload={"ok": True})
        answer = await transport(session).request("PUT", URL, json={"a": 1})
        [(_, second)] = [(m, u) for (m, u) in mocked.requests if str(u) == moved]
    assert answer.body == {"ok": True} and second.path == "/api/v2/items"
