-- Gauges read from the database at scrape time, so every replica reports the shared truth.

-- store_freshness --
-- The interval and the creation time let an alert say "no successful pass for N × this store's
-- interval", also for a store that never had one.
SELECT sch.store_id, s.platform, extract(epoch FROM sch.last_success_at) AS last_success,
       sch.guard_held_at IS NOT NULL AS guard_held, sch.circuit_open_until > now() AS circuit_open,
       extract(epoch FROM s.full_pass_interval) AS full_pass_interval_s,
       extract(epoch FROM s.created_at) AS created
FROM store_schedule sch JOIN stores s ON s.id = sch.store_id
WHERE s.enabled

-- open_drift_counts --
SELECT s.platform, count(*) AS open FROM drift_records d JOIN stores s ON s.id = d.store_id
WHERE d.status = 'open' GROUP BY s.platform

-- contested_counts --
-- One row per platform that has a store, zeros included, so a count that falls to 0 is reported as 0.
-- Reads store_state once per scrape (no index on contested: a partial one would need a migration).
SELECT s.platform, count(st.store_id) AS contested
FROM stores s LEFT JOIN store_state st ON st.store_id = s.id AND st.contested
GROUP BY s.platform

-- queue_oldest_ready --
-- How long the longest-waiting *ready* item has waited since it became ready (enqueued, its back-off
-- over, its store's circuit closed again); 0 when none waits. Items that wait on purpose (a retry's or an
-- overwrite's back-off, an open circuit) do not count, so a high value means nobody claims ready work.
SELECT coalesce(extract(epoch FROM now() - min(greatest(q.enqueued_at, q.not_before, sch.circuit_open_until))),
                0)::float8 AS age_s
FROM work_queue q JOIN store_schedule sch ON sch.store_id = q.store_id
WHERE q.status = 'queued' AND q.not_before <= now()
  AND (sch.circuit_open_until IS NULL OR sch.circuit_open_until <= now())
