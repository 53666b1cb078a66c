"""The ONE request function every platform uses: pacing, timeouts, retries, error mapping.

- 429: the store's pacer is paused for Retry-After (seconds or HTTP-date), then the request retries.
- 5xx, timeouts, connection resets, unparseable bodies: exponential back-off with full jitter.
- 401/403 → AuthError, other 4xx → PermanentError, immediately (retrying cannot help).
- a 2xx that the platform marks as throttled (Shopify's THROTTLED) retries via `retry_if`.
Messages carry the method and URL *path* only: never header values or query strings (WooCommerce
and others may put keys there).
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

if TYPE_CHECKING:
    from reconcilers.ratelimit import Pacer


class TransportError(Exception):
    """A request to a platform failed; the message is safe to log and show."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TemporaryError(TransportError):
    """Worth retrying later (our own retries ran out)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class PermanentError(TransportError):
    """A 4xx other than 429: retrying the same request cannot succeed."""


class AuthError(PermanentError):
    """401/403: the credential is wrong, expired or lacks a scope."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: Any
    url: str  # scheme://host/path, no query string


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0

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
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Retry(Exception):
    def __init__(self, reason: str, status: int | None, delay: float | None) -> None:
        super().__init__(reason)
        self.status = status
        self.delay = delay


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
        self.pacer = pacer
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
    ) -> Response:
        where = f"{method} {_path(url)}"
        last: _Retry | None = None
        for attempt in range(self._retry.attempts):
            if last is not None:
                await asyncio.sleep(
                    last.delay if last.delay is not None else self._retry.backoff(attempt - 1)
                )
            await self.pacer.acquire(cost)
            try:
                response = await self._once(where, method, url, params, json, data, headers, auth, attempt)
            except _Retry as retry:
                last = retry
                continue
            delay = retry_if(response) if retry_if is not None else None
            if delay is None:
                return response
            last = _Retry(
                "throttled by the platform", response.status, min(delay, self._retry.max_retry_after)
            )
        assert last is not None
        raise TemporaryError(
            f"{where}: {last} after {self._retry.attempts} attempts", last.status, last.delay
        )

    async def _once(
        self,
        where: str,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        auth: aiohttp.BasicAuth | None,
        attempt: int,
    ) -> Response:
        started = time.monotonic()
        status: int | None = None
        outcome = "network_error"
        try:
            async with self._session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=headers,
                auth=auth,
                timeout=self._timeout,
            ) as answer:
                status = answer.status
                raw = await answer.read()
                response_headers = CIMultiDict(answer.headers)
            outcome, response = self._classify(where, status, response_headers, raw, url)
            self.pacer.feed(response)
            return response
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise _Retry(f"{type(exc).__name__}", None, None) from None
        except _Retry as retry:
            outcome = (
                "throttled"
                if retry.status == 429
                else ("bad_body" if retry.status and retry.status < 300 else "server_error")
            )
            raise
        except AuthError:
            outcome = "auth_error"
            raise
        except PermanentError:
            outcome = "client_error"
            raise
        finally:
            if self._observer is not None:
                self._observer(
                    RequestRecord(
                        self.platform,
                        self.store_id,
                        method,
                        status,
                        outcome,
                        time.monotonic() - started,
                        attempt,
                    )
                )

    def _classify(
        self, where: str, status: int, headers: CIMultiDict[str], raw: bytes, url: str
    ) -> tuple[str, Response]:
        if status == 429:
            delay = parse_retry_after(headers.get("Retry-After"))
            delay = min(delay, self._retry.max_retry_after) if delay is not None else None
            self.pacer.penalize(delay if delay is not None else self._retry.base_delay)
            raise _Retry("HTTP 429 (rate limited)", status, delay)
        if status >= 500:
            raise _Retry(f"HTTP {status}", status, None)
        body = _parse(raw)
        if status in (401, 403):
            raise AuthError(f"{where}: HTTP {status}: {_message(body, raw)}", status)
        if status >= 400:
            raise PermanentError(f"{where}: HTTP {status}: {_message(body, raw)}", status)
        if body is _UNPARSEABLE:
            raise _Retry("unparseable JSON body", status, None)
        return "ok", Response(status, headers, body, _path(url, keep_host=True))


_UNPARSEABLE = object()


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return jsonlib.loads(raw)
    except ValueError:
        return _UNPARSEABLE


def _message(body: Any, raw: bytes) -> str:
    """A short human message from an error body, whatever its shape."""
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "errors", "code"):
            if key in body:
                value = body[key]
                text = value if isinstance(value, str) else jsonlib.dumps(value)
                return text[:200]
    if body is _UNPARSEABLE or body is None:
        return raw[:200].decode("utf-8", "replace")
    return jsonlib.dumps(body)[:200]


def _path(url: str, keep_host: bool = False) -> str:
    parsed = URL(url)
    path = parsed.path or "/"
    if keep_host and parsed.host:
        return str(parsed.with_query(None).with_fragment(None))
    return path
