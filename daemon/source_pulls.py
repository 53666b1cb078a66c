"""Pulling upstream sources: claim a source (its lease), read it, apply the snapshot, record the pull.

One pull: lease taken in the database (two replicas never pull one source at once) → the reader reads
the upstream through the shared transport → the snapshot is checked whole and applied in one
transaction (daemon.db.sources.apply_snapshot) → validators, freshness and the next due time recorded.
A 304 is a successful pull that applies nothing. A refused snapshot (SourceError) or a failed read
applies nothing, keeps a reason without secrets, and backs the source off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from daemon.config import Config
from daemon.credentials import CredentialStore, Secret
from daemon.db import sources as sources_db
from daemon.db.pool import DATABASE_UNAVAILABLE, Pool
from daemon.errors import NotFoundError, StocksyncError
from daemon.logs import get_logger
from reconcilers.transport import TooLarge, TransportError
from sources.factory import SourceFactory
from sources.interface import NotModified, SourceConfig, SourceError

OUTCOMES = ("applied", "not_modified", "refused", "failed")


@dataclass(frozen=True, slots=True)
class PullResult:
    source_id: str
    kind: str
    outcome: str  # applied | not_modified | refused | failed
    rows: int = 0
    changed: int = 0
    queued: int = 0
    changed_variants: tuple[str, ...] = ()
    error: str | None = None


class SourceBusy(StocksyncError):
    """Another process holds the source's pull lease right now."""


class SourcePuller:
    def __init__(
        self,
        pool: Pool,
        factory: SourceFactory,
        credentials: CredentialStore,
        config: Config,
        owner: str,
        on_pull: Callable[[PullResult], None] | None = None,
    ) -> None:
        self._pool = pool
        self._factory = factory
        self._credentials = credentials
        self._config = config
        self._owner = owner
        self._on_pull = on_pull

    @property
    def factory(self) -> SourceFactory:
        return self._factory

    def reconfigure(self, config: Config) -> None:
        self._config = config

    async def pull_due(self) -> list[PullResult]:
        """Every due or requested source this replica can claim now, one after another."""
        try:
            claims = await sources_db.claim_pulls(
                self._pool,
                self._owner,
                self._config.sources.pull_lease_s,
                self._config.sources.pulls_per_tick,
            )
        except DATABASE_UNAVAILABLE as exc:
            get_logger().warning("source_schedule_failed", error=type(exc).__name__)
            return []
        return [await self._pull(claim) for claim in claims]

    async def pull_now(self, source_id: str) -> PullResult:
        """Pull one named source now, due or not (the CLI): NotFoundError, or SourceBusy when another
        process is pulling it."""
        await sources_db.load_source(self._pool, source_id)  # NotFoundError naming the id
        claims = await sources_db.claim_pulls(
            self._pool, self._owner, self._config.sources.pull_lease_s, 1, source_id
        )
        if not claims:
            raise SourceBusy(f"source {source_id} is being pulled by another process right now; try again")
        return await self._pull(claims[0])

    async def _pull(self, claim: sources_db.Claim) -> PullResult:
        kind = "unknown"
        try:
            source, _ = await sources_db.load_source(self._pool, claim.source_id)
            kind = source.kind
            result = await self._read_and_apply(claim, source)
        except (SourceError, TooLarge) as exc:  # the upstream answered what must not be applied
            result = await self._failed(claim, kind, "refused", str(exc))
        except (TransportError, StocksyncError, ValueError) as exc:
            # transport messages carry method and path only; credential errors name, never show
            result = await self._failed(claim, kind, "failed", str(exc) or type(exc).__name__)
        if self._on_pull is not None:
            self._on_pull(result)
        return result

    async def _read_and_apply(self, claim: sources_db.Claim, source: SourceConfig) -> PullResult:
        reader = self._factory.build(source, self._credential(source))
        answer = await reader.pull(claim.previous, claim.only)
        log = get_logger(source_id=source.id, kind=source.kind)
        jitter = self._config.sync.jitter_share
        if isinstance(answer, NotModified):
            await sources_db.finish_pull(
                self._pool,
                claim,
                self._owner,
                answer.validators,
                None,
                complete=claim.only is None,
                jitter_share=jitter,
            )
            log.info("source_pulled", rows=0, changed=0, queued=0, not_modified=True)
            return PullResult(source.id, source.kind, "not_modified")
        # an upstream clock ahead of ours must not make its snapshot outrank later events
        snapshot = answer
        now = datetime.now(UTC)
        if snapshot.observed_at > now:
            snapshot = type(snapshot)(snapshot.rows, now, snapshot.validators, snapshot.complete)
        async with self._pool.acquire() as conn:
            applied = await sources_db.apply_snapshot(conn, source, snapshot)
        complete = snapshot.complete and claim.only is None
        await sources_db.finish_pull(
            self._pool,
            claim,
            self._owner,
            snapshot.validators,
            applied.rows,
            complete=complete,
            jitter_share=jitter,
        )
        log.info(
            "source_pulled",
            rows=applied.rows,
            changed=applied.changed,
            queued=applied.queued,
            not_modified=False,
        )
        return PullResult(
            source.id,
            source.kind,
            "applied",
            applied.rows,
            applied.changed,
            applied.queued,
            applied.changed_variants,
        )

    def _credential(self, source: SourceConfig) -> Secret | None:
        return self._credentials.load(source.credential) if source.credential else None

    async def _failed(self, claim: sources_db.Claim, kind: str, outcome: str, reason: str) -> PullResult:
        get_logger(source_id=claim.source_id, kind=kind).warning(
            "source_pull_failed", outcome=outcome, reason=reason
        )
        try:
            await sources_db.fail_pull(self._pool, claim, self._owner, reason)
        except DATABASE_UNAVAILABLE:  # the lease expires on its own; the next tick tries again
            pass
        return PullResult(claim.source_id, kind, outcome, error=reason)


async def request_pull(pool: Pool, source_id: str) -> None:
    """Persist a pull request for a source (NotFoundError for an unknown one)."""
    if not await sources_db.request_pull(pool, source_id):
        raise NotFoundError(f"no source {source_id!r}")
