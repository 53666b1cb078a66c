"""The one small interface every store platform implements.

A reconciler only translates between our model (daemon.model) and one platform's API. It never
touches the database, never decides what to write (the planner does), and sends every request
through the shared transport (retries, pacing, error mapping live there once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from daemon.credentials import Secret
from daemon.model import ApplyResult, Change, Observed, StoreConfig, SyncedVariant
from reconcilers.capabilities import Capabilities

if TYPE_CHECKING:
    from reconcilers.transport import Transport


@dataclass(frozen=True, slots=True)
class ReconcilerContext:
    """What a reconciler is built from: its store, the shared transport and its credential."""

    store: StoreConfig
    transport: Transport
    credential: Secret


class Reconciler(Protocol):
    """One platform behind one interface.

    - observe(): current state of exactly the given synced variants (the reconciler chunks them by
      its own read batch). Variants absent from the result were not found in the store.
    - apply(): write absolute values for at most `capabilities.max_write_batch` changes and report
      per item what the platform confirmed and what failed.
    - verify_webhook()/parse_webhook(): store-side change notifications (drift detected at once).
      parse_webhook raises daemon.errors.InputError naming the bad field.
    """

    # usually a class attribute; an instance may refine it from its store settings (e.g. the sandbox)
    capabilities: Capabilities

    def __init__(self, context: ReconcilerContext) -> None: ...

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]: ...

    async def apply(self, changes: Sequence[Change]) -> ApplyResult: ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool: ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Observed]: ...
