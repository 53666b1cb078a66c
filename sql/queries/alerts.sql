-- Alerts and notifications (daemon/db/alerts.py): the state snapshot alerts are computed from, and
-- the notifiers' shared dedupe state (migration 0014).

-- store_alert_rows --
-- One row per enabled store: guard, failures, freshness and open contested drift, set-based (the
-- contested figures are one grouped scan of the open drift records, not a query per store).
WITH contested AS (
    SELECT DISTINCT ON (d.store_id)
           d.store_id, count(*) OVER (PARTITION BY d.store_id) AS contested,
           min(d.detected_at) OVER (PARTITION BY d.store_id) AS contested_since,
           v.sku || ' (' || d.external_id || ')' AS newest_contested
    FROM drift_records d
    JOIN variants v ON v.id = d.variant_id
    WHERE d.status = 'open' AND d.action = 'contested'
    ORDER BY d.store_id, d.last_seen_at DESC, d.id DESC
),
held AS (
    SELECT store_id, count(*) AS held_items FROM guard_held_items GROUP BY store_id
)
SELECT s.id AS store_id, s.platform, s.created_at AS watched_since,
       extract(epoch FROM s.full_pass_interval)::float8 AS full_pass_interval_s,
       sch.last_success_at, sch.guard_held_at, sch.guard_reason, coalesce(h.held_items, 0) AS guard_held_items,
       sch.failing_since, sch.consecutive_failures, sch.circuit_open_until,
       (SELECT r.error FROM sync_runs r
        WHERE r.store_id = s.id AND r.outcome = 'failed' AND sch.consecutive_failures > 0
        ORDER BY r.started_at DESC LIMIT 1) AS last_error,
       coalesce(c.contested, 0) AS contested, c.contested_since, c.newest_contested
FROM stores s
JOIN store_schedule sch ON sch.store_id = s.id
LEFT JOIN held h ON h.store_id = s.id
LEFT JOIN contested c ON c.store_id = s.id
WHERE s.enabled
ORDER BY s.id

-- database_now --
SELECT now()

-- claim_notification_cycle --
-- The one replica that plans this cycle; no row back: another replica is planning right now.
SELECT evaluated_at FROM notification_cycle WHERE id = 1 FOR UPDATE SKIP LOCKED

-- finish_notification_cycle --
UPDATE notification_cycle SET evaluated_at = now() WHERE id = 1

-- notification_states --
SELECT alert_key, channel, state, revision, kind, store_id, platform, summary, since, last_sent_at
FROM notification_state

-- sends_last_hour --
SELECT channel, count(*) AS sent FROM notification_sends
WHERE sent_at > now() - interval '1 hour'
GROUP BY channel

-- record_notification_states --
INSERT INTO notification_state AS ns (alert_key, channel, state, revision, kind, store_id, platform, summary,
                                      since, first_sent_at, last_sent_at)
SELECT n.alert_key, n.channel, n.state, n.revision, n.kind, n.store_id, n.platform, n.summary, n.since,
       now(), now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::timestamptz[])
     AS n (alert_key, channel, state, revision, kind, store_id, platform, summary, since)
ON CONFLICT (alert_key, channel) DO UPDATE
SET state = excluded.state, revision = excluded.revision, kind = excluded.kind, store_id = excluded.store_id,
    platform = excluded.platform, summary = excluded.summary, since = excluded.since,
    first_sent_at = CASE WHEN ns.state = 'firing' AND excluded.state = 'firing' THEN ns.first_sent_at
                         ELSE now() END,
    last_sent_at = now()

-- record_notification_sends --
INSERT INTO notification_sends (channel, alert_key, state)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])

-- forget_notification_state --
-- A delivery failed for good: drop what the cycle recorded (only if no later cycle replaced it since),
-- so the next cycle plans the message again.
DELETE FROM notification_state WHERE alert_key = $1 AND channel = $2 AND last_sent_at = $3

-- restore_notification_state --
UPDATE notification_state
SET state = $4, revision = $5, summary = $6, since = $7, last_sent_at = $8
WHERE alert_key = $1 AND channel = $2 AND last_sent_at = $3

-- prune_notifications --
-- Sends past the hourly window (kept a day for reading), resolved states after a week.
WITH sends AS (DELETE FROM notification_sends WHERE sent_at < now() - interval '1 day')
DELETE FROM notification_state WHERE state = 'resolved' AND last_sent_at < now() - interval '7 days'

-- source_alert_rows --
-- Per enabled upstream source: what the source_stale alert needs (daemon/alerts.SourceSnapshot).
SELECT s.id AS source_id, s.kind, s.created_at AS watched_since,
       extract(epoch FROM s.pull_interval)::float8 AS pull_interval_s,
       ss.last_success_at, ss.last_error
FROM sources s LEFT JOIN source_state ss ON ss.source_id = s.id
WHERE s.enabled
ORDER BY s.id
