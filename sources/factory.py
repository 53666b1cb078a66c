"""Builds a source's reader on the shared client session, with that source's own pacer.

Like reconcilers.ReconcilerFactory: one transport per pull (platform label `source:<kind>` for the
request metrics), a pacer per source kept across pulls so a throttled upstream stays throttled. A
reader class may declare `rate_budget` (reconcilers.capabilities.RateBudget); else DEFAULT_BUDGET.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconcilers.capabilities import RateBudget
from reconcilers.transport_factory import TransportFactory
from sources import reader_for
from sources.interface import SourceConfig, SourceContext, SourceReader

if TYPE_CHECKING:
    from daemon.credentials import Secret

DEFAULT_BUDGET = RateBudget(requests_per_second=1.0, burst=2)


class SourceFactory(TransportFactory):
    def build(self, source: SourceConfig, credential: Secret | None) -> SourceReader:
        """The reader of the source's kind (ValueError for an unknown kind; SourceError for bad settings)."""
        key = f"source:{source.id}"
        transport = self.transport(f"source:{source.kind}", key, DEFAULT_BUDGET)
        reader = reader_for(SourceContext(source, transport, credential))
        budget = getattr(reader, "rate_budget", DEFAULT_BUDGET)
        self.keep_pacer(transport, key, budget if isinstance(budget, RateBudget) else DEFAULT_BUDGET)
        return reader
