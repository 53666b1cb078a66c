-- Gauges read from the database at scrape time, so every replica reports the shared truth.

-- store_freshness --
SELECT sch.store_id, s.platform, extract(epoch FROM sch.last_success_at) AS last_success,
       sch.guard_held_at IS NOT NULL AS guard_held, sch.circuit_open_until > now() AS circuit_open
FROM store_schedule sch JOIN stores s ON s.id = sch.store_id
WHERE s.enabled

-- open_drift_counts --
SELECT s.platform, count(*) AS open FROM drift_records d JOIN stores s ON s.id = d.store_id
WHERE d.status = 'open' GROUP BY s.platform
