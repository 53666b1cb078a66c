"""One adapter per registered platform: how the contract suite starts its local fake, seeds items,
injects faults and makes a signed store notification. A new platform joins the suite by adding its
adapter to ADAPTERS (test_every_registered_platform_has_an_adapter fails until it does).

Every fake listens on 127.0.0.1 only. Items are numbered 1..n; each adapter maps a number to the
platform's external id.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.credentials import Secret
from daemon.model import SyncedVariant

HUGE = 3_000_000_000  # a merchant's typo: beyond a PostgreSQL integer
OTHER_SECRET = "another-stores-webhook-secret"
WRONG = "rotated-credential-9f3a"  # a credential the store no longer accepts


@dataclass(frozen=True)
class Webhook:
    headers: dict[str, str]
    body: bytes


class PlatformAdapter(ABC):
    """What the contract suite needs from one platform's fake; nothing else is platform-specific."""

    name: str
    secret: str  # the webhook / client secret of the store under test
    # the signature travels inside the body itself (Wix: the whole body is a signed JWT), so no
    # header carries it and a notification stripped of its headers still verifies
    signature_in_body: bool = False
    # the platform documents no webhook signature at all (Storenvy): every delivery is accepted, so a
    # notification must take no value from the body and may only ask for re-reads of what it names
    unsigned_webhooks: bool = False

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Store settings pointing at the fake (pacing refined so tests do not wait on a real budget)."""

    @abstractmethod
    def credential(self, *, wrong: bool = False) -> Secret: ...

    @abstractmethod
    def external_id(self, number: int) -> str: ...

    @abstractmethod
    def seed(self, number: int, quantity: int) -> None:
        """An item the store counts (available iff quantity > 0)."""

    @abstractmethod
    def seed_unlimited(self, number: int) -> None:
        """An item the store sells without a count, in the platform's own encoding."""

    @abstractmethod
    def shown(self, number: int) -> int | None:
        """The count the store holds now (None: no count)."""

    def sells(self, number: int) -> bool:
        """Whether the storefront sells the item now."""
        return (self.shown(number) or 0) > 0

    @abstractmethod
    def refuse_next_write(self, number: int) -> None:
        """The store will refuse writes of this item (a permanent per-item error)."""

    @abstractmethod
    def throttle_next(self, requests: int) -> None:
        """The platform's own throttle signal for the next requests."""

    @abstractmethod
    def server_error_next(self, requests: int) -> None: ...

    @abstractmethod
    def requests(self) -> int:
        """API requests the fake has received so far."""

    @abstractmethod
    def webhook(self, number: int, quantity: int, *, secret: str | None = None) -> Webhook:
        """The store's signed notification that item `number` now shows `quantity`."""

    def synced(self, number: int, ref: dict[str, Any] | None = None) -> SyncedVariant:
        return SyncedVariant("c1", self.external_id(number), f"u{number}", ref)

    _sent = 0

    def stamp(self, fmt: str = "%Y-%m-%dT%H:%M:%S%z") -> str:
        """A later time for every notification made (a replay repeats the body, hence its time)."""
        self._sent += 1
        return (datetime(2026, 11, 23, 9, 0, tzinfo=UTC) + timedelta(seconds=self._sent)).strftime(fmt)


class ConventionalFakeAdapter(PlatformAdapter):
    """An adapter whose fake follows the fakes' shared conventions: `throttle_next` (how many requests
    to answer with the platform's throttle signal), `fail_next` (5xx statuses to answer first),
    `stats.requests` and `stop()`."""

    fake: Any
    server_error_status = 503

    async def stop(self) -> None:
        await self.fake.stop()

    def throttle_next(self, requests: int) -> None:
        self.fake.throttle_next += requests

    def server_error_next(self, requests: int) -> None:
        self.fake.fail_next += [self.server_error_status] * requests

    def requests(self) -> int:
        return int(self.fake.stats.requests)
