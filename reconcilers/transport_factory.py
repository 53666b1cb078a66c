"""Transports on the shared client session: one per pass (or pull), each with the pacer of its store (or
source), kept across passes so a throttled platform stays throttled. Used by the reconciler and the
source factories alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from reconcilers.capabilities import RateBudget
from reconcilers.ratelimit import PacerRegistry, build_pacer
from reconcilers.transport import RequestRecord, RetryPolicy, Transport

if TYPE_CHECKING:
    import aiohttp


class TransportFactory:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        pacers: PacerRegistry | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        observer: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        self._session = session
        self._pacers = pacers or PacerRegistry()
        self._retry = retry or RetryPolicy()
        self._timeout_s = timeout_s
        self._observer = observer

    def transport(self, platform: str, key: str, budget: RateBudget) -> Transport:
        """A transport paced by `budget` until keep_pacer() gives it the kept one."""
        return Transport(
            self._session,
            platform=platform,
            store_id=key,
            pacer=build_pacer(budget),
            retry=self._retry,
            timeout_s=self._timeout_s,
            observer=self._observer,
        )

    def keep_pacer(self, transport: Transport, key: str, budget: RateBudget) -> None:
        """The key's own pacer (a changed budget starts a fresh one), once the budget is known."""
        transport.pacer = self._pacers.get(key, budget)
