"""Reading a store's platform settings: every error names `stores.<id>.settings.<key>` and the rule.

The same refinement names on every platform (declared per platform in Capabilities.refinable):
`requests_per_second` (rate), `batch_limit` (write batch), `page_size` (read batch). Old names are
refused with a message naming the new one, so a config never silently loses its setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from yarl import URL

from daemon.errors import ConfigError
from daemon.model import StoreConfig
from reconcilers.capabilities import Capabilities, Refinement

# old setting name -> the name every platform reads now
RENAMED: Mapping[str, str] = {
    "rate_per_s": Refinement.REQUESTS_PER_SECOND.value,  # the sandbox's name until 2026-12
}
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class StoreSettings:
    """Typed reads of one store's `settings` mapping."""

    def __init__(self, store: StoreConfig) -> None:
        self.store_id = store.id
        self.platform = store.platform
        self._values: Mapping[str, Any] = store.settings
        for old, new in RENAMED.items():
            if old in self._values:
                raise ConfigError(self.key(old), f"renamed: use {new!r}")

    def key(self, name: str) -> str:
        return f"stores.{self.store_id}.settings.{name}"

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def positive(self, name: str, default: float | None = None, *, whole: bool = False) -> float | None:
        """A number > 0 (`whole`: an integer); `default` when absent."""
        value = self._values.get(name)
        if value is None:
            return default
        allowed = int if whole else int | float
        if isinstance(value, bool) or not isinstance(value, allowed) or not 0 < value < 1e12:
            raise ConfigError(self.key(name), f"must be a {'whole ' if whole else ''}number > 0")
        return float(value)

    def whole(self, name: str, default: int) -> int:
        """A whole number > 0, `default` when absent."""
        value = self.positive(name, default, whole=True)
        assert value is not None  # a default was given
        return int(value)

    def base_url(self, name: str = "base_url", default: str | None = None, *, https: bool = False) -> str:
        """An http(s) URL without query, trailing slash removed; `https`: plain http on loopback only."""
        raw = self._values.get(name, default)
        if raw is None:
            raise ConfigError(self.key(name), "required: an http(s) URL")
        url = URL(raw.strip()) if isinstance(raw, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.host or url.query_string:
            raise ConfigError(self.key(name), "must be an http(s) URL without a query string")
        if https and url.scheme == "http" and url.host not in _LOOPBACK:
            raise ConfigError(self.key(name), "must use https: credentials travel with every request")
        return str(url).rstrip("/")

    def ident(self, name: str, what: str, *, digits: bool = False, prefix: str = "") -> str:
        """A platform id (non-empty text without '/'; `digits`: decimal digits after `prefix`)."""
        raw = self._values.get(name)
        text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
        text = text.removeprefix(prefix) if prefix else text
        ok = bool(text) and "/" not in text and len(text) <= 200
        if digits:
            ok = ok and text.isascii() and text.isdigit()
        if not ok:
            raise ConfigError(self.key(name), f"required: {what}")
        return text


def refined(base: Capabilities, settings: StoreSettings) -> Capabilities:
    """The store's own limits replace the platform's defaults, for the settings it declares refinable;
    a refinement the platform does not take is refused rather than silently ignored."""
    caps = base
    for refinement in Refinement:
        value = settings.positive(refinement.value, whole=refinement is not Refinement.REQUESTS_PER_SECOND)
        if value is None:
            continue
        if refinement not in base.refinable:
            raise ConfigError(settings.key(refinement.value), f"not a setting of platform {base.platform}")
        if refinement is Refinement.REQUESTS_PER_SECOND:
            caps = replace(caps, rate_budget=replace(caps.rate_budget, requests_per_second=value))
        elif refinement is Refinement.BATCH_LIMIT:
            caps = replace(caps, max_write_batch=int(value))
        else:
            caps = replace(caps, max_read_batch=int(value))
    return caps
