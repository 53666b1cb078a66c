"""Active alerts from a state snapshot (daemon/alerts.py, pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from daemon.alerts import (
    ALERT_KINDS,
    CONTESTED,
    GUARD_HELD,
    SOURCE_STALE,
    STORE_FAILING,
    STORE_STALE,
    Snapshot,
    SourceSnapshot,
    StoreSnapshot,
    Thresholds,
    active_alerts,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LIMITS = Thresholds(failing_after_s=900, stale_after_intervals=3)


def store(store_id: str = "na", **values: object) -> StoreSnapshot:
    fields: dict[str, object] = {
        "platform": "shopify",
        "watched_since": NOW - 100 * HOUR,
        "full_pass_interval_s": 4 * 3600.0,
        "last_success_at": NOW - HOUR,
    }
    return StoreSnapshot(store_id, **(fields | values))  # type: ignore[arg-type]


def kinds(*stores: StoreSnapshot) -> list[str]:
    return [a.kind for a in active_alerts(Snapshot(NOW, stores), LIMITS)]


def test_a_healthy_store_has_no_alert() -> None:
    assert kinds(store()) == []


def test_a_held_store_alerts_with_its_reason_and_held_count() -> None:
    alerts = active_alerts(
        Snapshot(NOW, [store(guard_held_at=NOW - HOUR, guard_reason="4 of 10 would go", guard_held_items=4)]),
        LIMITS,
    )
    assert [(a.kind, a.key, a.store_id, a.platform, a.since) for a in alerts] == [
        (GUARD_HELD, "guard_held:na", "na", "shopify", NOW - HOUR)
    ]
    assert "4 writes held" in alerts[0].summary and "4 of 10 would go" in alerts[0].summary


def test_contested_variants_alert_per_store_with_count_and_newest() -> None:
    (alert,) = active_alerts(
        Snapshot(NOW, [store(contested=3, contested_since=NOW - 2 * HOUR, newest_contested="MUG-1 (E7)")]),
        LIMITS,
    )
    assert (alert.kind, alert.key, alert.revision, alert.since) == (
        CONTESTED,
        "contested:na",
        "3",
        NOW - 2 * HOUR,
    )
    assert "3 contested variants" in alert.summary and "MUG-1 (E7)" in alert.summary


def test_failing_alerts_only_after_the_threshold() -> None:
    recent = store(failing_since=NOW - timedelta(seconds=899), consecutive_failures=2)
    long = store(failing_since=NOW - timedelta(seconds=900), consecutive_failures=5, last_error="HTTP 503")
    assert kinds(recent) == []
    (alert,) = active_alerts(Snapshot(NOW, [long]), LIMITS)
    assert alert.kind == STORE_FAILING and "5 in a row" in alert.summary and "HTTP 503" in alert.summary


def test_a_recovered_store_is_not_failing_even_with_an_old_mark() -> None:
    assert kinds(store(failing_since=NOW - 10 * HOUR, consecutive_failures=0)) == []


def test_stale_after_n_intervals_counting_from_creation_when_never_succeeded() -> None:
    assert kinds(store(last_success_at=NOW - 11 * HOUR)) == []
    assert kinds(store(last_success_at=NOW - 12 * HOUR)) == [STORE_STALE]
    assert kinds(store(last_success_at=None, watched_since=NOW - HOUR)) == []
    never = active_alerts(Snapshot(NOW, [store(last_success_at=None, watched_since=NOW - 13 * HOUR)]), LIMITS)
    assert [a.kind for a in never] == [STORE_STALE] and "never" in never[0].summary


def test_an_upstream_source_is_stale_after_its_intervals_and_says_its_last_error() -> None:
    def source(**values: object) -> SourceSnapshot:
        fields: dict[str, object] = {
            "kind": "http_feed",
            "watched_since": NOW - 100 * HOUR,
            "pull_interval_s": 3600.0,
        }
        return SourceSnapshot("feed", **(fields | values))  # type: ignore[arg-type]

    def alerts(*sources: SourceSnapshot) -> list[str]:
        return [
            a.summary for a in active_alerts(Snapshot(NOW, (), sources), LIMITS) if a.kind == SOURCE_STALE
        ]

    assert alerts(source(last_success_at=NOW - 2 * HOUR)) == []
    (stale,) = alerts(source(last_success_at=NOW - 4 * HOUR, last_error="feed:14: quantity: not a number"))
    assert "feed" in stale and "4 h ago" in stale and "feed:14: quantity" in stale
    assert alerts(source(last_success_at=None, watched_since=NOW - HOUR)) == []
    (never,) = alerts(source(last_success_at=None, watched_since=NOW - 5 * HOUR))
    assert "never" in never


def test_kinds_can_be_chosen() -> None:
    snapshot = Snapshot(NOW, [store(guard_held_at=NOW, last_success_at=None)])
    assert [a.kind for a in active_alerts(snapshot, LIMITS, kinds=[STORE_STALE])] == [STORE_STALE]


times = st.none() | st.integers(0, 400).map(lambda h: NOW - timedelta(hours=h))
snapshots = st.builds(
    StoreSnapshot,
    st.sampled_from(["a", "b", "c"]),
    st.just("wix"),
    st.integers(0, 400).map(lambda h: NOW - timedelta(hours=h)),
    st.sampled_from([3600.0, 4 * 3600.0]),
    last_success_at=times,
    guard_held_at=times,
    guard_reason=st.none() | st.text(max_size=20),
    failing_since=times,
    consecutive_failures=st.integers(0, 4),
    contested=st.integers(0, 3),
    contested_since=times,
)


@given(st.lists(snapshots, max_size=4, unique_by=lambda s: s.store_id))
def test_keys_are_unique_stable_and_name_their_kind_and_store(stores: list[StoreSnapshot]) -> None:
    first = active_alerts(Snapshot(NOW, stores), LIMITS)
    again = active_alerts(Snapshot(NOW, list(reversed(stores))), LIMITS)
    assert [a.key for a in first] == [a.key for a in again]  # order does not depend on the rows' order
    assert len({a.key for a in first}) == len(first)
    for alert in first:
        assert alert.kind in ALERT_KINDS and alert.key == f"{alert.kind}:{alert.store_id}"
        assert alert.since <= NOW


@given(st.lists(snapshots, max_size=4, unique_by=lambda s: s.store_id))
def test_each_store_condition_implies_its_alert(stores: list[StoreSnapshot]) -> None:
    keys = {a.key for a in active_alerts(Snapshot(NOW, stores), LIMITS)}
    for s in stores:
        assert (f"guard_held:{s.store_id}" in keys) == (s.guard_held_at is not None)
        assert (f"contested:{s.store_id}" in keys) == (s.contested > 0 and s.contested_since is not None)
        failing = (
            s.consecutive_failures > 0
            and s.failing_since is not None
            and NOW - s.failing_since >= timedelta(seconds=LIMITS.failing_after_s)
        )
        assert (f"store_failing:{s.store_id}" in keys) == failing
        since = s.last_success_at or s.watched_since
        assert (f"store_stale:{s.store_id}" in keys) == (
            NOW - since >= 3 * timedelta(seconds=s.full_pass_interval_s)
        )
