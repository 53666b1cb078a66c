"""Active alerts, computed from a snapshot of the database (PURE: no I/O).

The notifier and the drift page both call `active_alerts` on the same snapshot query, so what people
are told and what the page shows agree, on every replica. Each alert has a stable dedupe `key` (the same
condition keeps its key from one evaluation to the next) and a `revision` that changes only when the
condition grew in a way worth telling again (more contested variants).

A new kind is a rule function in RULES plus the rows it needs in the Snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

GUARD_HELD = "guard_held"
CONTESTED = "contested"
STORE_FAILING = "store_failing"
STORE_STALE = "store_stale"
SOURCE_STALE = "source_stale"
ALERT_KINDS = (GUARD_HELD, CONTESTED, STORE_FAILING, STORE_STALE, SOURCE_STALE)

# What each kind means, for people (the drift page and the README say the same).
MEANING = {
    GUARD_HELD: "the mass-unavailable guard holds the store: less sellable writes wait for an operator",
    CONTESTED: "variants another writer keeps changing: stocksync stopped overwriting them",
    STORE_FAILING: "the store's passes keep failing",
    STORE_STALE: "no successful full pass for several of the store's intervals",
    SOURCE_STALE: "no successful pull of an upstream source for several of its intervals",
}


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    key: str  # stable dedupe key, e.g. "guard_held:na"
    store_id: str | None
    platform: str | None
    summary: str  # one line for people; never a secret (built from ids, counts and times only)
    since: datetime
    revision: str = ""


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """One enabled store's alert-relevant state (sql/queries/alerts.sql store_alert_rows)."""

    store_id: str
    platform: str
    watched_since: datetime  # when the store was added: "never succeeded" counts from here
    full_pass_interval_s: float
    last_success_at: datetime | None = None
    guard_held_at: datetime | None = None
    guard_reason: str | None = None
    guard_held_items: int = 0
    failing_since: datetime | None = None  # first failure since the last success
    consecutive_failures: int = 0
    circuit_open_until: datetime | None = None
    last_error: str | None = None
    contested: int = 0  # open contested drift records
    contested_since: datetime | None = None  # the oldest of them
    newest_contested: str | None = None  # "SKU (external id)" of the newest


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """One enabled upstream source's freshness (sql/queries/alerts.sql source_alert_rows)."""

    source_id: str
    kind: str
    watched_since: datetime  # when the source was added: "never pulled" counts from here
    pull_interval_s: float
    last_success_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: datetime  # the database's clock, so replicas agree
    stores: Sequence[StoreSnapshot] = field(default_factory=tuple)
    sources: Sequence[SourceSnapshot] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Thresholds:
    failing_after_s: float = 900.0
    stale_after_intervals: float = 3.0
    source_stale_after_intervals: float = 3.0  # sources.stale_after_intervals: the metric's bound too


Rule = Callable[[Snapshot, Thresholds], Iterable[Alert]]


def _ago(now: datetime, then: datetime) -> str:
    return _duration((now - then).total_seconds())


def _duration(span_s: float) -> str:
    seconds = max(0, int(span_s))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _guard_held(snapshot: Snapshot, _: Thresholds) -> Iterable[Alert]:
    for s in snapshot.stores:
        if s.guard_held_at is None:
            continue
        why = f": {s.guard_reason}" if s.guard_reason else ""
        yield Alert(
            GUARD_HELD,
            f"{GUARD_HELD}:{s.store_id}",
            s.store_id,
            s.platform,
            f"store {s.store_id} held by the mass-unavailable guard for {_ago(snapshot.now, s.guard_held_at)}"
            f" ({s.guard_held_items} writes held){why}; confirm with `stocksync sync {s.store_id} "
            "--confirm-guard` or undo the upstream change",
            s.guard_held_at,
        )


def _contested(snapshot: Snapshot, _: Thresholds) -> Iterable[Alert]:
    for s in snapshot.stores:
        if s.contested <= 0 or s.contested_since is None:
            continue
        newest = f", newest {s.newest_contested}" if s.newest_contested else ""
        yield Alert(
            CONTESTED,
            f"{CONTESTED}:{s.store_id}",
            s.store_id,
            s.platform,
            f"store {s.store_id}: {s.contested} contested variant{'s' if s.contested != 1 else ''}{newest}"
            " (another writer keeps changing them; resolve on the drift page)",
            s.contested_since,
            # more contested variants are news; fewer (support resolved some) are not
            revision=str(s.contested),
        )


def _store_failing(snapshot: Snapshot, limits: Thresholds) -> Iterable[Alert]:
    for s in snapshot.stores:
        if s.consecutive_failures <= 0 or s.failing_since is None:
            continue
        if (snapshot.now - s.failing_since).total_seconds() < limits.failing_after_s:
            continue
        circuit = (
            f"; circuit open for {_ago(s.circuit_open_until, snapshot.now)} more"
            if s.circuit_open_until is not None and s.circuit_open_until > snapshot.now
            else ""
        )
        error = f"; last error: {s.last_error[:200]}" if s.last_error else ""
        yield Alert(
            STORE_FAILING,
            f"{STORE_FAILING}:{s.store_id}",
            s.store_id,
            s.platform,
            f"store {s.store_id}: passes failing for {_ago(snapshot.now, s.failing_since)} "
            f"({s.consecutive_failures} in a row){circuit}{error}",
            s.failing_since,
        )


def _store_stale(snapshot: Snapshot, limits: Thresholds) -> Iterable[Alert]:
    for s in snapshot.stores:
        since = s.last_success_at or s.watched_since
        allowed = timedelta(seconds=s.full_pass_interval_s * limits.stale_after_intervals)
        if snapshot.now - since < allowed:
            continue
        last = "never" if s.last_success_at is None else f"{_ago(snapshot.now, s.last_success_at)} ago"
        yield Alert(
            STORE_STALE,
            f"{STORE_STALE}:{s.store_id}",
            s.store_id,
            s.platform,
            f"store {s.store_id}: last successful full pass {last} "
            f"(interval {_duration(s.full_pass_interval_s)})",
            since,
        )


def _source_stale(snapshot: Snapshot, limits: Thresholds) -> Iterable[Alert]:
    for s in snapshot.sources:
        since = s.last_success_at or s.watched_since
        allowed = timedelta(seconds=s.pull_interval_s * limits.source_stale_after_intervals)
        if snapshot.now - since < allowed:
            continue
        last = "never" if s.last_success_at is None else f"{_ago(snapshot.now, s.last_success_at)} ago"
        error = f"; last error: {s.last_error[:200]}" if s.last_error else ""
        yield Alert(
            SOURCE_STALE,
            f"{SOURCE_STALE}:{s.source_id}",
            None,
            None,
            f"upstream source {s.source_id} ({s.kind}): last successful pull {last} "
            f"(interval {_duration(s.pull_interval_s)}){error}; stores following it may show stale stock",
            since,
        )


RULES: dict[str, Rule] = {
    GUARD_HELD: _guard_held,
    CONTESTED: _contested,
    STORE_FAILING: _store_failing,
    STORE_STALE: _store_stale,
    SOURCE_STALE: _source_stale,
}


def active_alerts(snapshot: Snapshot, limits: Thresholds, kinds: Iterable[str] = ALERT_KINDS) -> list[Alert]:
    """Every active alert of the given kinds, oldest first (then by key: a stable order)."""
    found = [alert for kind in kinds for alert in RULES[kind](snapshot, limits)]
    return sorted(found, key=lambda a: (a.since, a.key))
