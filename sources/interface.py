"""The one small interface every upstream source kind implements.

A reader only translates between one upstream system and our model: it fetches a snapshot of facility
stock for the variants the source covers, or parses a signed callback from it. It never touches the
database and never decides what a store shows (the planner does); a pull is applied by the daemon in
one transaction with the same newest-wins rule, set-based enqueue and mass-unavailable guard as events.

Absence is never "out of stock": a variant a snapshot does not name keeps the stock it had, unless the
reader itself states a documented rule for absence (HubRise: no inventory entry = in stock) by emitting
a row for it. An empty or truncated upstream answer is an error (`SourceError`), not an empty snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from daemon.credentials import Secret
from daemon.model import StockStatus

if TYPE_CHECKING:
    from reconcilers.transport import Transport


class SourceError(Exception):
    """The upstream answered something that must not be applied (bad row, truncated document,
    more rows than allowed). `where` names the place: `feed.csv:14: quantity`, `body.data[3].id`."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP cache validators of the last successful pull, sent back so an unchanged upstream costs a
    304 and nothing else. Kept by the daemon between pulls (never secrets)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One configured source (a row of the `sources` import), as a reader sees it.

    `facilities`: the facility ids this source is the truth for; rows for any other facility are
    refused. `variants`: upstream id → our variant id for the variants it covers (source mappings;
    empty when the upstream speaks our variant ids, as a feed in the `stock` import's columns does).
    """

    id: str
    kind: str
    settings: Mapping[str, Any]
    credential: str | None
    facilities: frozenset[str]
    variants: Mapping[str, str] = field(default_factory=dict)
    pull_interval_s: int = 4 * 3600


@dataclass(frozen=True, slots=True)
class SourceStock:
    """One facility's stock of one variant, as the upstream reports it (our ids, already mapped)."""

    variant_id: str
    facility_id: str
    status: StockStatus
    quantity: int | None  # None: not counted upstream (print on demand)
    where: str = ""  # the row's place in the upstream answer (`feed:14`), named when it is refused


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one pull read. `observed_at` is the upstream's time for the snapshot where it states one
    (else when we read it): newest wins against events, so an older snapshot never undoes a newer event.
    `complete` is False when the reader read only part of what the source covers (a webhook-triggered
    pull of a few products)."""

    rows: Sequence[SourceStock]
    observed_at: datetime
    validators: Validators = Validators()
    complete: bool = True


@dataclass(frozen=True, slots=True)
class NotModified:
    """The upstream answered 304 (or an equivalent): nothing to apply, the pull still counts as a
    successful one for freshness."""

    validators: Validators


@dataclass(frozen=True, slots=True)
class SourceCallback:
    """What a verified callback from the upstream says: stock rows it carries (applied like events,
    newest wins by `occurred_at`), and/or upstream ids whose stock changed without a value (pulled now).
    `delivery_id` de-duplicates redeliveries where the upstream sends one."""

    rows: Sequence[SourceStock] = ()
    occurred_at: datetime | None = None
    pull_ids: frozenset[str] = frozenset()
    delivery_id: str | None = None


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a reader is built from: its configuration, the shared transport and its credential."""

    source: SourceConfig
    transport: Transport
    credential: Secret | None


class SourceReader(Protocol):
    """One upstream system behind one interface.

    - pull(): the current stock of what the source covers (or of `only` upstream ids, a partial pull:
      Snapshot.complete False); NotModified when the upstream says nothing changed since `previous`.
      Raises SourceError for an answer that must not be applied, transport errors as they come.
    - verify_callback()/parse_callback(): a signed push from the upstream (Printful webhooks, HubRise
      callbacks); parse_callback raises daemon.errors.InputError naming the bad field.
    """

    kind: ClassVar[str]

    async def pull(
        self, previous: Validators, only: frozenset[str] | None = None
    ) -> Snapshot | NotModified: ...

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool: ...

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> SourceCallback: ...
