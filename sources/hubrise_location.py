"""Source kind `hubrise_location`: one HubRise location's inventory as the stock of one facility.

A POS bridge (Zelty Bridge and others) writes out-of-stock flags into a HubRise location's inventory
(stock "0" = out, no entry = unlimited); stores follow it through this reader. It reads the whole
inventory with `GET /catalogs/{catalog_id}/locations/{location_id}/inventory` (X-Access-Token) and
turns it into a row for EVERY covered variant (sources/hubrise_inventory.py), and it verifies and
parses the `inventory.patch` / `inventory.update` callbacks (sources/hubrise_events.py).

Never a guess: a body that is not a complete inventory list raises SourceError, transport failures
(5xx after retries, 401, 404, a cut connection) propagate, and nothing is returned to apply. The
inventory is documented as one unpaginated list; if HubRise ever answers with an `X-Cursor-Next`
header (its index-endpoint pagination), the pages are followed, never read as the whole inventory.
It only maps shapes: requests go through the shared transport (pacing, retries, 429), and it never
touches the database or decides what a store shows.

Documentation read 2026-12-07 (github.com/HubRise/website, content/developers/api/en/):
catalogs.md §14 Inventories; callbacks.md (events, `state_change`, X-HubRise-Hmac-SHA256 = hex
HMAC-SHA256 of the raw body keyed with the client secret); general-concepts.md §1-3, §6 (X-Access-Token,
X-Cursor-Next pagination of index endpoints, 500/min 2,500/h 10,000/day aligned windows, 304).
Not documented, so unverified: the shape of one `state_change` item (read as an inventory entry), and
whether the inventory answer carries an ETag or Last-Modified (sent back only when it does).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError
from reconcilers.capabilities import RateBudget, RateWindow
from reconcilers.signatures import header_value, verify_signed_body
from reconcilers.transport import Response
from sources.hubrise_events import parse_event
from sources.hubrise_inventory import Key, coverage, keys_of, read_inventory, snapshot_rows
from sources.interface import NotModified, Snapshot, SourceCallback, SourceContext, SourceError, Validators

DEFAULT_BASE_URL = "https://api.hubrise.com/v1"
TOKEN_HEADER = "X-Access-Token"
SIGNATURE_HEADER = "X-HubRise-Hmac-SHA256"
CURSOR_HEADER = "X-Cursor-Next"
MAX_PAGES = 100  # only if HubRise paginates (undocumented for inventories): 10,000 entries at 100 a page
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class HubRiseLocationReader:
    """Reads one (catalog, location) inventory; one GET per pull, a callback costs no request."""

    kind: ClassVar[str] = "hubrise_location"
    # general-concepts.md §3, per connection; paced at the hourly limit so a busy hour never locks the
    # connection out until the next one (the same budget the HubRise store module keeps)
    rate_budget: ClassVar[RateBudget] = RateBudget(
        requests_per_second=2500 / 3600,
        burst=10,
        windows=(RateWindow(500, 60), RateWindow(2500, 3600), RateWindow(10_000, 86_400)),
    )

    def __init__(self, context: SourceContext) -> None:
        source = context.source
        self._source_id = source.id
        settings = source.settings
        self._catalog_id = self._ident(settings, "catalog_id")
        self._location_id = self._ident(settings, "location_id")
        facility_id = self._ident(settings, "facility_id")
        if facility_id not in source.facilities:
            raise ConfigError(
                self._key("facility_id"),
                f"{facility_id!r} is not one of the facilities this source is the truth for "
                f"({', '.join(sorted(source.facilities)) or 'none'})",
            )
        ref_kind = settings.get("ref_kind", "sku")
        self._covered = coverage(source.id, str(ref_kind), facility_id, source.variants)
        base = self._base_url(settings.get("base_url", DEFAULT_BASE_URL))
        self._url = str(
            URL(base + "/catalogs") / self._catalog_id / "locations" / self._location_id / "inventory"
        )
        self._transport = context.transport
        self._token, self._client_secret = _credential(source.id, context.credential)

    async def pull(self, previous: Validators, only: frozenset[str] | None = None) -> Snapshot | NotModified:
        wanted: list[Key] | None = None if only is None else keys_of(self._covered, sorted(only))
        started = datetime.now(UTC)  # the state read is at least this new: a later event still wins
        if wanted == []:
            return Snapshot((), started, complete=False)
        headers = {TOKEN_HEADER: self._token}
        if only is None:  # a partial pull must read: no validators, no 304
            headers.update(_conditional(previous))
        response = await self._transport.request("GET", self._url, headers=headers)
        if response.status == 304:
            if only is not None or previous == Validators():
                raise SourceError("inventory", "HTTP 304 to a request that sent no validators")
            return NotModified(previous)
        entries, pages = await self._all_pages(response)
        stocks = read_inventory(entries)
        rows = snapshot_rows(self._covered, stocks, wanted)
        validators = _validators(response) if pages == 1 and only is None else Validators()
        return Snapshot(rows, started, validators, complete=only is None)

    async def _all_pages(self, first: Response) -> tuple[list[object], int]:
        entries, response, seen = [], first, set[str]()
        for page in range(1, MAX_PAGES + 1):
            if not isinstance(response.body, list):
                raise SourceError(f"inventory page {page}", "not a JSON list of inventory entries")
            entries.extend(response.body)
            cursor = (header_value(response.headers, CURSOR_HEADER) or "").strip()
            if not cursor:
                return entries, page
            if cursor in seen:
                raise SourceError(f"inventory page {page}", f"{CURSOR_HEADER} repeated: pages would loop")
            seen.add(cursor)
            response = await self._transport.request(
                "GET", self._url, params={"cursor": cursor}, headers={TOKEN_HEADER: self._token}
            )
        raise SourceError("inventory", f"more than {MAX_PAGES} pages: not read as a whole inventory")

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signed_body(self._client_secret, headers, SIGNATURE_HEADER, body, encoding="hex")

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> SourceCallback:
        return parse_event(body, self._catalog_id, self._location_id, self._covered)

    def _key(self, name: str) -> str:
        return f"sources.{self._source_id}.settings.{name}"

    def _ident(self, settings: Mapping[str, object], name: str) -> str:
        raw = settings.get(name)
        text = raw.strip() if isinstance(raw, str) else ""
        if not text or "/" in text or len(text) > 200:
            raise ConfigError(self._key(name), "required: a HubRise id (non-empty text without '/')")
        return text

    def _base_url(self, raw: object) -> str:
        url = URL(raw.strip()) if isinstance(raw, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.host or url.query_string:
            raise ConfigError(self._key("base_url"), "must be an http(s) URL without a query string")
        if url.scheme == "http" and url.host not in _LOOPBACK:
            raise ConfigError(
                self._key("base_url"), "must use https: the access token travels with every request"
            )
        return str(url).rstrip("/")


def _credential(source_id: str, secret: Secret | None) -> tuple[str, str | None]:
    """(access token, client secret or None) from `{"access_token": …, "client_secret": …}` or a
    plain token (then callbacks cannot be verified and are refused). Errors never carry a value."""
    if secret is None:
        raise CredentialError(f"source {source_id} needs a credential (the HubRise access token)")
    where = f"credential {secret.name!r} for source {source_id}"
    text = secret.reveal().strip()
    if not text.startswith("{"):
        if not text:
            raise CredentialError(f"{where} is empty")
        return text, None
    fields = secret.json()
    token, client_secret = fields.get("access_token"), fields.get("client_secret")
    if not isinstance(token, str) or not token:
        raise CredentialError(f"{where}: 'access_token' is missing")
    if client_secret is not None and not isinstance(client_secret, str):
        raise CredentialError(f"{where}: 'client_secret' must be a string")
    return token, client_secret or None


def _conditional(previous: Validators) -> dict[str, str]:
    headers = {}
    if previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    return headers


def _validators(response: Response) -> Validators:
    etag = (header_value(response.headers, "ETag") or "").strip()[:200]
    modified = (header_value(response.headers, "Last-Modified") or "").strip()[:100]
    return Validators(etag or None, modified or None)
