"""The one small interface every store platform implements.

A reconciler only translates between our model (daemon.model) and one platform's API. It never
touches the database, never decides what to write (the planner does), and sends every request
through the shared transport (retries, pacing, error mapping live there once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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


class Notification(list[Observed]):
    """What parse_webhook() returns: the items a store notification says changed (a plain list of
    Observed, so code that iterates it keeps working) and what the engine needs besides:

    - `delivery_id`: the platform's id of the delivery or event (a re-delivery repeats it), and
      `occurred_at`: when the platform says the change happened (its clock, timezone-aware). Both None
      when the platform sends neither; the engine then falls back to its own last observation time.
      A replay older than the last observation must not reopen drift.
    - `reread`: the store says something changed without saying what (HubRise `inventory.update`):
      re-read the store's synced variants now instead of waiting for the next full pass. A reread
      notification that lists items (their values unknown, `available` None: BigCommerce's bodies
      carry ids only) re-reads just those, in a queued pass; none of them synced: nothing to do.
    - `reread_products`: the store names the product that changed but not its stock, or its body
      cannot be trusted: the synced variants of these products (capabilities.product_of) are re-read
      now, not the whole store.
    Items that cannot be enforced carry Observed.problem; an empty notification changes nothing.
    """

    def __init__(
        self,
        items: Iterable[Observed] = (),
        *,
        delivery_id: str | None = None,
        occurred_at: datetime | None = None,
        reread: bool = False,
        reread_products: Iterable[str] = (),
    ) -> None:
        super().__init__(items)
        self.delivery_id = delivery_id
        self.occurred_at = occurred_at
        self.reread = reread
        self.reread_products = frozenset(reread_products)


class Reconciler(Protocol):
    """One platform behind one interface.

    - observe(): current state of exactly the given synced variants (the reconciler chunks them by
      its own read batch). Variants absent from the result were not found in the store.
    - apply(): write absolute values for at most `capabilities.max_write_batch` changes (the engine
      packs them so no write unit, `capabilities.unit_of`, spans two calls; apply never splits them
      again: reconcilers.batching.run_batch) and report per item what was confirmed or failed.
    - verify_webhook()/parse_webhook(): store-side change notifications (drift detected at once).
      parse_webhook raises daemon.errors.InputError naming the bad field (bodies are read with
      reconcilers.webhook_json) and returns a Notification.
    Failures and problems: apply() reports per item an ItemFailure (temporary, permanent, auth or
    problem: see daemon.model.ItemFailure); observe() marks items that cannot be enforced here with
    Observed.problem (and platform_ref[batching.CANNOT_ENFORCE], so apply() never writes them).
    A value the state database cannot hold is such a problem, never an exception.
    """

    # usually a class attribute; an instance may refine it from its store settings (e.g. the sandbox)
    capabilities: Capabilities

    def __init__(self, context: ReconcilerContext) -> None: ...

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]: ...

    async def apply(self, changes: Sequence[Change]) -> ApplyResult: ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool: ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Notification: ...
