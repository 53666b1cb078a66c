"""The HTTP feed source kind: a JSON or CSV document of facility stock fetched from a URL.

Settings: `url` (http or https), `format` json|csv (default json), `auth` none|bearer|hmac (default:
bearer when a credential is named, else none), `signature_header` (hmac: the response header holding
the HMAC-SHA256 of the body, hex or base64, keyed with the credential), `max_bytes` (default 50 MB)
and `max_rows` (default 1,000,000). The previous pull's ETag/Last-Modified are sent back, so an
unchanged feed costs one 304. Every request goes through the shared transport (pacing, retries,
error mapping); a feed has no callbacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from yarl import URL

from reconcilers.capabilities import RateBudget
from reconcilers.signatures import header_value, verify_base64, verify_hex
from sources.feed import FORMATS, parse_feed
from sources.interface import (
    NotModified,
    Snapshot,
    SourceCallback,
    SourceContext,
    SourceError,
    Validators,
)

DEFAULT_MAX_BYTES = 50_000_000
DEFAULT_MAX_ROWS = 1_000_000
_AUTH = ("none", "bearer", "hmac")


class HttpFeedReader:
    kind: ClassVar[str] = "http_feed"
    # one feed document per pull: a gentle budget keeps a retried pull from hammering the host
    rate_budget: ClassVar[RateBudget] = RateBudget(requests_per_second=1.0, burst=2)

    def __init__(self, context: SourceContext) -> None:
        self._context = context
        settings = context.source.settings
        self._url = _url(settings.get("url"))
        self._format = _choice(settings, "format", FORMATS, "json")
        self._auth = _choice(settings, "auth", _AUTH, "bearer" if context.source.credential else "none")
        self._signature_header = settings.get("signature_header")
        if self._auth == "hmac" and not (isinstance(self._signature_header, str) and self._signature_header):
            raise SourceError(
                "settings: signature_header", "required with auth hmac (the header the feed signs in)"
            )
        if self._auth != "none" and context.credential is None:
            raise SourceError("credential", f"auth {self._auth} needs the source's credential")
        self._max_bytes = _limit(settings, "max_bytes", DEFAULT_MAX_BYTES)
        self._max_rows = _limit(settings, "max_rows", DEFAULT_MAX_ROWS)

    async def pull(self, previous: Validators, only: frozenset[str] | None = None) -> Snapshot | NotModified:
        # a feed is one document: a partial pull reads it whole (its rows for other ids change nothing)
        headers = {"Accept": "text/csv" if self._format == "csv" else "application/json"}
        if previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
        if self._auth == "bearer" and self._context.credential is not None:
            headers["Authorization"] = f"Bearer {self._context.credential.reveal()}"
        read_at = datetime.now(UTC)
        response = await self._context.transport.request(
            "GET", self._url, headers=headers, raw=True, max_bytes=self._max_bytes
        )
        validators = Validators(
            header_value(response.headers, "ETag"), header_value(response.headers, "Last-Modified")
        )
        if response.status == 304:
            return NotModified(
                Validators(
                    validators.etag or previous.etag, validators.last_modified or previous.last_modified
                )
            )
        if response.status != 200:
            raise SourceError("feed: status", f"HTTP {response.status} (expected 200 or 304)")
        body: bytes = response.body
        if self._auth == "hmac":
            self._verify(response.headers, body)
        rows = parse_feed(body, self._format, max_rows=self._max_rows, variants=self._context.source.variants)
        observed_at = _stamp(validators.last_modified, read_at)
        return Snapshot(rows, observed_at, validators, complete=True)

    def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        assert self._context.credential is not None and isinstance(self._signature_header, str)
        signature = header_value(headers, self._signature_header)
        if signature and signature.startswith("sha256="):
            signature = signature.removeprefix("sha256=")
        secret = self._context.credential.reveal()
        if not (verify_hex(secret, body, signature) or verify_base64(secret, body, signature)):
            raise SourceError(
                f"feed: {self._signature_header}", "the signature does not verify (nothing applied)"
            )

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # a feed is only pulled; nothing it could push is taken

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> SourceCallback:
        raise SourceError("callback", "an http_feed source takes no callbacks")


def _url(raw: Any) -> str:
    if not isinstance(raw, str) or URL(raw).scheme not in ("http", "https") or not URL(raw).host:
        raise SourceError("settings: url", "required: the feed's http(s) address")
    return raw


def _choice(settings: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = settings.get(key, default)
    if value not in allowed:
        raise SourceError(f"settings: {key}", f"must be one of {'|'.join(allowed)}")
    return str(value)


def _limit(settings: Mapping[str, Any], key: str, default: int) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SourceError(f"settings: {key}", "must be a whole number >= 1")
    return value


def _stamp(last_modified: str | None, read_at: datetime) -> datetime:
    """The feed's own time for its content (Last-Modified) when it states one and it is not ahead
    of ours, else when we read it: newest wins against events by this time."""
    if last_modified:
        try:
            stated = parsedate_to_datetime(last_modified)
        except (TypeError, ValueError):
            return read_at
        if stated.tzinfo is not None and stated <= read_at:
            return stated
    return read_at
