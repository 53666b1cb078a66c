"""Builds a source's reader on the shared client session, with that source's own pacer.

Like reconcilers.ReconcilerFactory: one transport per pull (platform label `source:<kind>` for the
request metrics), a pacer per source kept across pulls so a throttled upstream stays throttled. A
reader class may declare `rate_budget` (reconcilers.capabilities.RateBudget); else DEFAULT_BUDGET.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from reconcilers.capabilities import RateBudget
from reconcilers.ratelimit import PacerRegistry, build_pacer
from reconcilers.transport import RequestRecord, RetryPolicy, Transport
from sources import reader_for
from sources.interface import SourceConfig, SourceContext, SourceReader

if TYPE_CHECKING:
    import aiohttp

    from daemon.credentials import Secret

DEFAULT_BUDGET = RateBudget(requests_per_second=1.0, burst=2)


class SourceFactory:
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

    def build(self, source: SourceConfig, credential: Secret | None) -> SourceReader:
        """The reader of the source's kind (ValueError for an unknown kind; SourceError for bad settings)."""
        transport = Transport(
            self._session,
            platform=f"source:{source.kind}",
            store_id=f"source:{source.id}",
            pacer=build_pacer(DEFAULT_BUDGET),  # replaced below once the reader's budget is known
            retry=self._retry,
            timeout_s=self._timeout_s,
            observer=self._observer,
        )
        reader = reader_for(SourceContext(source, transport, credential))
        budget = getattr(reader, "rate_budget", DEFAULT_BUDGET)
        transport.pacer = self._pacers.get(
            f"source:{source.id}", budget if isinstance(budget, RateBudget) else DEFAULT_BUDGET
        )
        return reader
