"""The ONE request function every platform uses: pacing, timeouts, retries, error mapping.

- 429: the store's pacer is paused for Retry-After (seconds or HTTP-date; when absent, until the next
  boundary of the platform's aligned rate windows, else a back-off), so every request of that store
  waits, then the request retries. Other stores are not held. A window too far off ends the request
  with a TemporaryError carrying that wait.
- 5xx, timeouts, connection resets, unparseable bodies: exponential back-off with full jitter (a 5xx's
  own Retry-After wins when given).
- 401/403 → AuthError, other 4xx → PermanentError, immediately (retrying cannot help).
- a 2xx that the platform marks as throttled (Shopify's THROTTLED) retries via `retry_if`.
- a 4xx that the platform uses as its throttle signal (BASE answers 400 `hour_api_limit`) is told
  apart by the caller's `throttled_if` (the wait in seconds, or None for a plain refusal) and then
  handled exactly like a 429 with that wait.
Retries are a small explicit loop rather than tenacity: the wait comes from the answer (Retry-After,
`retry_if`) and must also pause the store's pacer, which tenacity's wait strategies cannot see cleanly.
Messages carry the method and URL *path* only: never header values, query strings or credentials
(WooCommerce and others put keys in the query); values the request carried are redacted from any
platform text quoted in a message. No logging per request: the observer (metrics) counts them.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, NoReturn

import aiohttp
from multidict import CIMultiDict
from yarl import URL

if TYPE_CHECKING:
    from reconcilers.ratelimit import Pacer

_MIN_REDACTED = 6  # shorter request values (ids, page numbers) are not secrets and stay readable
_PLAIN_HEADERS = frozenset({"accept", "content-type", "user-agent", "content-length"})


class TransportError(Exception):
    """A request to a platform failed; the message is safe to log and show. `body`: the parsed error
    answer of a refused request (4xx), for platforms that name the refused items in it; never shown."""

    def __init__(self, message: str, status: int | None = None, *, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class TemporaryError(TransportError):
    """Worth retrying later (our own retries ran out)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class PermanentError(TransportError):
    """A 4xx other than 429: retrying the same request cannot succeed."""


class AuthError(PermanentError):
    """401/403: the credential is wrong, expired or lacks a scope."""


class TooLarge(PermanentError):
    """The answer is larger than the caller's `max_bytes`: refused before it is read to the end."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: Any  # parsed JSON, None for an empty body (the bytes as sent, with `raw=True`)
    url: str  # scheme://host/path: no query string, no user info


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311 - not crypto


@dataclass(frozen=True, slots=True)
class RequestRecord:
    platform: str
    store_id: str
    method: str
    status: int | None
    outcome: str  # ok | throttled | server_error | client_error | auth_error | network_error | bad_body
    duration_s: float
    attempt: int


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP-dates are GMT by definition
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Retry(Exception):
    """One attempt failed in a way worth retrying; `delay` is the wait the platform asked for."""

    def __init__(self, reason: str, outcome: str, status: int | None, delay: float | None) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.status = status
        self.delay = delay


@dataclass(frozen=True, slots=True)
class _Call:
    """One logical request, as sent on every attempt."""

    method: str
    url: str
    params: Mapping[str, str] | None
    json: Any
    data: bytes | None
    headers: Mapping[str, str] | None
    auth: aiohttp.BasicAuth | None
    retry_if: Callable[[Response], float | None] | None
    throttled_if: Callable[[Response], float | None] | None = None
    raw: bool = False  # the body as bytes, not parsed (a CSV feed)
    max_bytes: int | None = None  # refuse a longer answer (TooLarge) instead of reading it whole

    @property
    def where(self) -> str:
        return f"{self.method} {_path(self.url)}"

    def redact(self, text: str) -> str:
        """Drop every value this request carried (tokens, keys, passwords) from platform text."""
        headers = self.headers or {}
        values = [*(self.params or {}).values()]
        values += [v for k, v in headers.items() if k.lower() not in _PLAIN_HEADERS]
        # "Bearer <token>": a platform quoting the token alone must not show it either
        values += [
            v.split(" ", 1)[1] for k, v in headers.items() if k.lower() == "authorization" and " " in v
        ]
        values += URL(self.url).query.values()
        if self.auth is not None:
            values += [self.auth.login, self.auth.password]
        for value in sorted(_secret_like(values), key=len, reverse=True):
            text = text.replace(value, "***")
        return text


class Transport:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        platform: str,
        store_id: str,
        pacer: Pacer,
        retry: RetryPolicy = RetryPolicy(),
        timeout_s: float = 30.0,
        observer: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        self._session = session
        self.platform = platform
        self.store_id = store_id
        self.pacer = pacer  # public: the factory swaps in the store's kept pacer, reconcilers feed it
        self._retry = retry
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._observer = observer

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: aiohttp.BasicAuth | None = None,
        cost: float = 1.0,
        retry_if: Callable[[Response], float | None] | None = None,
        throttled_if: Callable[[Response], float | None] | None = None,
        raw: bool = False,
        max_bytes: int | None = None,
    ) -> Response:
        """One request with the store's pacing and retries. `raw`: keep the body as bytes (not JSON);
        `max_bytes`: refuse an answer longer than that (TooLarge, not retried). A 304 is an answer."""
        call = _Call(method, url, params, json, data, headers, auth, retry_if, throttled_if, raw, max_bytes)
        last: _Retry | None = None
        for attempt in range(self._retry.attempts):
            if last is not None:
                await asyncio.sleep(
                    last.delay if last.delay is not None else self._retry.backoff(attempt - 1)
                )
            await self.pacer.acquire(cost)
            try:
                return await self._attempt(call, attempt)
            except _Retry as retry:
                last = retry
        assert last is not None  # attempts >= 1 and every failed attempt sets it
        raise TemporaryError(
            f"{call.where}: {last} after {self._retry.attempts} attempts", last.status, last.delay
        )

    async def _attempt(self, call: _Call, attempt: int) -> Response:
        started = time.monotonic()
        status: int | None = None
        outcome = "network_error"
        try:
            status, response_headers, raw = await self._send(call)
            response = self._classify(call, status, response_headers, raw, attempt)
            outcome = "ok"
            return response
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise _Retry(type(exc).__name__, "network_error", None, None) from None
        except _Retry as retry:
            outcome = retry.outcome
            raise
        except TemporaryError:  # throttled until a window too far off to wait for here
            outcome = "throttled"
            raise
        except AuthError:
            outcome = "auth_error"
            raise
        except PermanentError:
            outcome = "client_error"
            raise
        except asyncio.CancelledError:
            outcome = ""  # cancelled by our side: not a platform answer worth counting
            raise
        finally:
            if self._observer is not None and outcome:
                elapsed = time.monotonic() - started
                self._observer(
                    RequestRecord(
                        self.platform, self.store_id, call.method, status, outcome, elapsed, attempt
                    )
                )

    async def _send(self, call: _Call) -> tuple[int, CIMultiDict[str], bytes]:
        """One request, following redirects only within the same origin: credentials travel in
        platform headers (X-Weebly-Access-Token, X-Access-Token, ...) that a client would forward to any
        host a redirect names, and only `Authorization` is dropped by aiohttp on a cross-host one."""
        url, params = URL(call.url), call.params
        for _ in range(_MAX_REDIRECTS + 1):
            async with self._session.request(
                call.method,
                url,
                params=params,
                json=call.json,
                data=call.data,
                headers=call.headers,
                auth=call.auth,
                timeout=self._timeout,
                allow_redirects=False,
            ) as answer:
                location = answer.headers.get("Location")
                if answer.status not in _REDIRECTS or not location:
                    return answer.status, CIMultiDict(answer.headers), await _read(answer, call)
                target = answer.url.join(URL(location))
            same_origin = target.origin() == answer.url.origin()
            if not same_origin or (answer.status not in (307, 308) and call.method != "GET"):
                raise PermanentError(
                    f"{call.where}: HTTP {answer.status} redirect to {target.origin()} refused "
                    "(credentials are only sent to the configured host)",
                    answer.status,
                )
            url, params = target, None
        raise TemporaryError(f"{call.where}: more than {_MAX_REDIRECTS} redirects", None)

    def _classify(
        self, call: _Call, status: int, headers: CIMultiDict[str], raw: bytes, attempt: int
    ) -> Response:
        body = _UNPARSEABLE if call.raw else _parse(raw)
        kept = raw if call.raw else None if body is _UNPARSEABLE else body
        response = Response(status, headers, kept, _public_url(call.url))
        self.pacer.feed(response)  # every answer teaches the pacer, throttled or not
        if status == 429:
            delay = self._retry_after(headers)
            window = self.pacer.after_throttle(attempt) if delay is None else None
            self._throttled(call, status, delay if delay is not None else window, attempt)
        if 400 <= status < 500 and call.throttled_if is not None:
            wait = call.throttled_if(response)
            if wait is not None:  # the platform's own throttle signal on a 4xx: a 429 by another name
                self._throttled(call, status, max(wait, 0.0), attempt)
        if status >= 500:
            raise _Retry(f"HTTP {status}", "server_error", status, self._retry_after(headers))
        answered = None if body is _UNPARSEABLE else body
        if status in (401, 403):
            raise AuthError(
                f"{call.where}: HTTP {status}: {call.redact(_message(body, raw))}", status, body=answered
            )
        if status >= 400:
            raise PermanentError(
                f"{call.where}: HTTP {status}: {call.redact(_message(body, raw))}", status, body=answered
            )
        if body is _UNPARSEABLE and not call.raw:
            raise _Retry("unparseable JSON body", "bad_body", status, None)
        delay = call.retry_if(response) if call.retry_if is not None else None
        if delay is not None:
            raise _Retry("throttled by the platform", "throttled", status, self._cap(delay))
        return response

    def _throttled(self, call: _Call, status: int, wait: float | None, attempt: int) -> NoReturn:
        """Throttled: the whole store waits `wait` (None: a back-off), then the request retries; a wait
        too far off to spend in this request holds the store and goes to the caller instead of burning
        retries."""
        if wait is not None and wait > self._retry.max_retry_after:
            self.pacer.penalize(wait)
            raise TemporaryError(f"{call.where}: HTTP {status} (rate limited) for {wait:.0f} s", status, wait)
        delay = wait if wait is not None else self._retry.backoff(attempt)
        self.pacer.penalize(delay)  # the whole store waits, not only this request
        raise _Retry(f"HTTP {status} (rate limited)", "throttled", status, delay)

    def _retry_after(self, headers: Mapping[str, str]) -> float | None:
        delay = parse_retry_after(headers.get("Retry-After"))
        return None if delay is None else self._cap(delay)

    def _cap(self, delay: float) -> float:
        return min(max(delay, 0.0), self._retry.max_retry_after)


async def _read(answer: aiohttp.ClientResponse, call: _Call) -> bytes:
    """The whole body, or TooLarge as soon as it (or its declared length) passes `call.max_bytes`."""
    limit = call.max_bytes
    if limit is None:
        return await answer.read()
    too_large = TooLarge(f"{call.where}: answer larger than {limit} bytes (max_bytes)", answer.status)
    if answer.content_length is not None and answer.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


_UNPARSEABLE = object()
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 3


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return jsonlib.loads(raw, parse_int=_bounded_int)
    except (ValueError, RecursionError):  # nesting deeper than the parser's recursion: not an answer
        return _UNPARSEABLE


_INT_DIGITS = 4000  # below Python's int() limit (4300 digits); no count or id comes close


def _bounded_int(text: str) -> int | float:
    """A JSON integer; one too long for int() becomes an infinite float, so a single absurd value
    is refused for its item (daemon/store_values.py) instead of making the whole answer unreadable."""
    if len(text) <= _INT_DIGITS:
        return int(text)
    return float("-inf") if text.startswith("-") else float("inf")


def _message(body: Any, raw: bytes) -> str:
    """A short human message from an error body, whatever its shape (max 200 characters)."""
    text: str | None = None
    if isinstance(body, dict):
        # "title": RFC 9457 problem details (BigCommerce), whose "errors" is often an empty object
        for key in ("message", "error_description", "error", "title", "errors", "code"):
            if key in body:
                value = body[key]
                text = value if isinstance(value, str) else jsonlib.dumps(value)
                break
    if text is None:
        text = raw.decode("utf-8", "replace") if body is _UNPARSEABLE or body is None else jsonlib.dumps(body)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        text = _filled(text, body.get("parameters"))
    errors = body.get("errors") if isinstance(body, dict) and "message" in body else None
    if isinstance(errors, list):
        # per-field errors (HubRise 422 `errors[{field, message}]`) are what support needs to fix it
        fields = [e for e in errors if isinstance(e, dict) and "field" in e][:5]
        if fields:
            text += " (" + "; ".join(f"{e['field']}: {e.get('message', '')}" for e in fields) + ")"
        else:  # errors[{message, parameters}] (Magento's "Validation Failed")
            said = [e for e in errors if isinstance(e, dict) and isinstance(e.get("message"), str)][:3]
            if said:
                text += " (" + "; ".join(_filled(e["message"], e.get("parameters")) for e in said) + ")"
    return " ".join(text.split())[:200] or "(empty body)"


_PLACEHOLDER = re.compile(r"%(\w{1,40})")


def _filled(message: str, parameters: Any) -> str:
    """A message with its placeholders (%name, %1) replaced by the `parameters` sent beside it
    (Magento: an object for named placeholders, a list for numbered ones); others stay as they are."""
    if isinstance(parameters, dict):
        values = {str(k): v for k, v in parameters.items()}
    elif isinstance(parameters, list):
        values = {str(i): v for i, v in enumerate(parameters, start=1)}
    else:
        return message

    def value(match: re.Match[str]) -> str:
        found = values.get(match[1])
        if isinstance(found, bool) or not isinstance(found, str | int | float):
            return match[0]
        return str(found)[:80]

    return _PLACEHOLDER.sub(value, message[:400])


def _secret_like(values: Iterable[object]) -> set[str]:
    return {v for v in values if isinstance(v, str) and len(v) >= _MIN_REDACTED}


def _path(url: str) -> str:
    return URL(url).path or "/"


def _public_url(url: str) -> str:
    parsed = URL(url)
    return str(parsed.with_user(None).with_query(None).with_fragment(None))
