"""Every Prometheus metric in one place and the recorders that feed them (the HTTP handler that serves
them is daemon/web/metrics.py: only the runtime imports the web app).

Labels: `platform` and `outcome` everywhere (bounded). `store_id` only on the per-store freshness,
interval, guard and circuit gauges: one series per enabled store, the number an operator alerts on
("no successful pass for N × its interval"); never on per-request or per-variant series. The alert rules
and the dashboard under monitoring/ use these names; tests check that every name they use is exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from daemon.db import observability, work_queue
from daemon.db import sources as sources_db
from daemon.db.pool import DATABASE_UNAVAILABLE, Pool
from daemon.db.work_queue import WorkItem
from daemon.engine import PassReport
from reconcilers.transport import RequestRecord

REGISTRY = CollectorRegistry()

API_REQUESTS = Counter(
    "stocksync_api_requests", "Platform API requests by outcome", ["platform", "outcome"], registry=REGISTRY
)
THROTTLED = Counter(
    "stocksync_throttled", "429 answers received from platforms", ["platform"], registry=REGISTRY
)
WRITES = Counter("stocksync_writes", "Variant writes by outcome", ["platform", "outcome"], registry=REGISTRY)
DRIFT_OPENED = Counter("stocksync_drift_opened", "Drift records opened", ["platform"], registry=REGISTRY)
DRIFT_RESOLVED = Counter(
    "stocksync_drift_resolved", "Drift records resolved by support", ["resolution"], registry=REGISTRY
)
GUARD_TRIPS = Counter(
    "stocksync_guard_trips",
    "Times the mass-unavailable guard tripped (a store became held)",
    ["platform"],
    registry=REGISTRY,
)
PASSES = Counter(
    "stocksync_passes", "Reconcile passes by outcome", ["platform", "trigger", "outcome"], registry=REGISTRY
)
PASS_DURATION = Histogram(
    "stocksync_pass_duration_seconds",
    "Duration of reconcile passes",
    ["platform", "trigger"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
    registry=REGISTRY,
)
EVENT_TO_WRITE = Histogram(
    "stocksync_event_to_write_seconds",
    "From an upstream event's acceptance to its store write",
    ["platform"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("stocksync_queue_depth", "Queued work items", registry=REGISTRY)
QUEUE_OLDEST = Gauge("stocksync_queue_oldest_age_seconds", "Age of the oldest queued item", registry=REGISTRY)
QUEUE_OLDEST_READY = Gauge(
    "stocksync_queue_oldest_ready_age_seconds",
    "How long the longest-waiting ready queued item (back-off over, circuit closed) has waited unclaimed",
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "stocksync_last_successful_pass_timestamp_seconds",
    "Unix time of each store's last successful full pass (0 = never)",
    ["store_id", "platform"],
    registry=REGISTRY,
)
GUARD_HELD = Gauge(
    "stocksync_guard_held",
    "1 while a store is held by the mass-unavailable guard (from the trip to confirm or release)",
    ["store_id"],
    registry=REGISTRY,
)
CIRCUIT_OPEN = Gauge(
    "stocksync_circuit_open", "1 while a store's circuit is open", ["store_id"], registry=REGISTRY
)
FULL_PASS_INTERVAL = Gauge(
    "stocksync_full_pass_interval_seconds",
    "Each store's periodic full-pass interval (before jitter)",
    ["store_id"],
    registry=REGISTRY,
)
STORE_CREATED = Gauge(
    "stocksync_store_created_timestamp_seconds",
    "Unix time each store was first imported (how long a store that never succeeded has waited)",
    ["store_id"],
    registry=REGISTRY,
)
OPEN_DRIFT = Gauge("stocksync_open_drift", "Open drift records", ["platform"], registry=REGISTRY)
CONTESTED = Gauge(
    "stocksync_contested_variants",
    "Variants marked contested (edited again and again; no longer overwritten)",
    ["platform"],
    registry=REGISTRY,
)
DB_UP = Gauge("stocksync_database_up", "1 when the database answered the last scrape", registry=REGISTRY)
SOURCE_PULLS = Counter(
    "stocksync_source_pulls",
    "Upstream source pulls by outcome (applied, not_modified, refused, failed)",
    ["kind", "outcome"],
    registry=REGISTRY,
)
SOURCE_LAST_SUCCESS = Gauge(
    "stocksync_source_last_success_timestamp_seconds",
    "Unix time of each source's last successful complete pull, a 304 included (0 = never)",
    ["source_id"],
    registry=REGISTRY,
)
SOURCE_ROWS = Gauge(
    "stocksync_source_rows", "Rows in each source's last successful pull", ["source_id"], registry=REGISTRY
)
SOURCE_INTERVAL = Gauge(
    "stocksync_source_pull_interval_seconds", "Each source's pull interval", ["source_id"], registry=REGISTRY
)
SOURCE_STALE = Gauge(
    "stocksync_source_stale",
    "1 when a source had no successful pull for sources.stale_after_intervals intervals",
    ["source_id"],
    registry=REGISTRY,
)


def observe_request(record: RequestRecord) -> None:
    API_REQUESTS.labels(record.platform, record.outcome).inc()
    if record.outcome == "throttled":  # 429s and throttled 200s (Shopify THROTTLED)
        THROTTLED.labels(record.platform).inc()


def record_pass(platform: str, report: PassReport) -> None:
    PASSES.labels(platform, report.trigger, report.outcome).inc()
    PASS_DURATION.labels(platform, report.trigger).observe(report.duration_s)
    WRITES.labels(platform, "applied").inc(report.counts.changed)
    WRITES.labels(platform, "failed").inc(report.counts.failed)
    DRIFT_OPENED.labels(platform).inc(report.drift_opened)
    if report.guard_tripped:
        GUARD_TRIPS.labels(platform).inc()


def record_notification_drift(platform: str, drift_opened: int) -> None:
    """Drift a store's own webhook revealed counts like drift a pass found."""
    DRIFT_OPENED.labels(platform).inc(drift_opened)


def record_event_latency(platform: str, items: Sequence[WorkItem], report: PassReport, now: datetime) -> None:
    """Event → write latency for the variant items a pass wrote."""
    written = {w.external_id for w in report.writes} - {f.external_id for f in report.failures}
    for item in items:
        if item.trigger == "event" and item.external_id in written:
            EVENT_TO_WRITE.labels(platform).observe((now - item.enqueued_at).total_seconds())


def record_source_pull(kind: str, outcome: str) -> None:
    SOURCE_PULLS.labels(kind, outcome).inc()


def _set_source_freshness(rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        source_id = row["source_id"]
        SOURCE_LAST_SUCCESS.labels(source_id).set(float(row["last_success"] or 0))
        SOURCE_ROWS.labels(source_id).set(row["last_rows"] or 0)
        SOURCE_INTERVAL.labels(source_id).set(row["pull_interval_s"])
        SOURCE_STALE.labels(source_id).set(1 if row["stale"] else 0)


async def refresh_from_database(pool: Pool, stale_after_intervals: int = 3) -> None:
    try:
        depth, oldest = await work_queue.depth(pool)
        freshness = await observability.store_freshness(pool)
        drift = await observability.open_drift_counts(pool)
        contested = await observability.contested_counts(pool)
        oldest_ready = await observability.queue_oldest_ready_age(pool)
        sources = await sources_db.source_freshness(pool, stale_after_intervals)
    except DATABASE_UNAVAILABLE:
        DB_UP.set(0)
        return
    # From here on nothing awaits, so a concurrent scrape never sees the gauges half rebuilt. They are
    # rebuilt rather than updated: a store or source that was disabled or deleted, or a platform whose
    # last store went, must vanish instead of repeating its last value (an alert on it would never resolve).
    DB_UP.set(1)
    QUEUE_DEPTH.set(depth)
    QUEUE_OLDEST.set(oldest)
    QUEUE_OLDEST_READY.set(oldest_ready)
    for gauge in (
        LAST_SUCCESS,
        GUARD_HELD,
        CIRCUIT_OPEN,
        FULL_PASS_INTERVAL,
        STORE_CREATED,
        OPEN_DRIFT,
        CONTESTED,
        SOURCE_LAST_SUCCESS,
        SOURCE_ROWS,
        SOURCE_INTERVAL,
        SOURCE_STALE,
    ):
        gauge.clear()
    for row in freshness:
        LAST_SUCCESS.labels(row["store_id"], row["platform"]).set(float(row["last_success"] or 0))
        GUARD_HELD.labels(row["store_id"]).set(1 if row["guard_held"] else 0)
        CIRCUIT_OPEN.labels(row["store_id"]).set(1 if row["circuit_open"] else 0)
        FULL_PASS_INTERVAL.labels(row["store_id"]).set(float(row["full_pass_interval_s"]))
        STORE_CREATED.labels(row["store_id"]).set(float(row["created"]))
    # Every platform that has a store (enabled or not, like the drift page) reports both counts, 0
    # included: a resolved last record reads 0. Drift records always belong to a store, so none is missed.
    open_by_platform = {row["platform"]: row["open"] for row in drift}
    for row in contested:
        OPEN_DRIFT.labels(row["platform"]).set(open_by_platform.get(row["platform"], 0))
        CONTESTED.labels(row["platform"]).set(row["contested"])
    _set_source_freshness(sources)
