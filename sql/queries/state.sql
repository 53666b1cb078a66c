-- Desired values (the availability rules' SQL twin), observed and applied store state.

-- pass_rows --
-- One page of a store's synced variants (keyset: external_id > $2, at most $3 rows, optionally only
-- the ids in $4) with desired computed set-based by the rules of daemon/rules.py (the desired_*
-- functions of migration 0002), plus known state.
WITH store AS (
    SELECT id, region_id, mode, safety_buffer, max_quantity, pod_quantity FROM stores WHERE id = $1
), region AS (
    SELECT rf.facility_id FROM region_facilities rf JOIN store ON rf.region_id = store.region_id
), page AS MATERIALIZED (
    SELECT sv.external_id, sv.variant_id, sv.sync_enabled, v.sku, v.kind
    FROM synced_variants sv
    JOIN variants v ON v.id = sv.variant_id
    WHERE sv.store_id = $1 AND sv.external_id > $2
      -- a hashed set, not `= ANY ($4)`: under a generic plan that compared every row with the whole
      -- array, so a large backlog of queued variants made each pass quadratically slower
      AND ($4::text[] IS NULL OR sv.external_id IN (SELECT unnest($4::text[])))
    ORDER BY sv.external_id
    LIMIT $3
), desired AS (
    SELECT page.external_id, page.variant_id, page.sync_enabled, page.sku, page.kind,
           desired_available(page.kind, stock.carrying, stock.any_in_stock, stock.uncounted, stock.on_hand,
                             store.safety_buffer) AS desired_available,
           desired_quantity(page.kind, store.mode, stock.carrying, stock.any_in_stock, stock.uncounted,
                            stock.on_hand, store.safety_buffer, store.max_quantity, store.pod_quantity)
               AS desired_quantity
    FROM page
    CROSS JOIN store
    -- per page row through its own index lookup: linear in the page whatever the plan guesses about
    -- LIMIT $3 (a generic plan that assumed one row joined a grouped page back to itself: quadratic)
    CROSS JOIN LATERAL (
        SELECT count(fs.facility_id) AS carrying,
               coalesce(bool_or(fs.status = 'in_stock'), false) AS any_in_stock,
               coalesce(bool_or(fs.status = 'in_stock' AND fs.quantity IS NULL), false) AS uncounted,
               coalesce(sum(fs.quantity) FILTER (WHERE fs.status = 'in_stock'), 0) AS on_hand
        FROM facility_stock fs
        WHERE fs.variant_id = page.variant_id AND fs.facility_id IN (SELECT facility_id FROM region)
    ) stock
)
SELECT d.external_id, d.variant_id, d.sync_enabled, d.sku, d.kind, d.desired_available, d.desired_quantity,
       st.applied_available, st.applied_quantity, coalesce(st.applied_unlimited, false) AS applied_unlimited,
       st.pending_available, st.pending_quantity,
       st.platform_ref, coalesce(st.drift_count, 0) AS drift_count, st.overwrite_not_before,
       dr.action AS open_drift
FROM desired d
LEFT JOIN store_state st ON st.store_id = $1 AND st.external_id = d.external_id
LEFT JOIN drift_records dr ON dr.store_id = $1 AND dr.external_id = d.external_id AND dr.status = 'open'
ORDER BY d.external_id

-- synced_external_ids --
-- A store's synced variants (a notification that names write units only: their members are re-read).
SELECT external_id FROM synced_variants WHERE store_id = $1 AND sync_enabled ORDER BY external_id

-- count_synced --
SELECT count(*) FROM synced_variants WHERE store_id = $1 AND sync_enabled

-- upsert_observed --
INSERT INTO store_state (store_id, external_id, observed_available, observed_quantity, observed_at, platform_ref,
                         observed_unlimited)
SELECT $1, o.external_id, o.available, o.quantity, now(), o.platform_ref, o.unlimited
FROM unnest($2::text[], $3::boolean[], $4::integer[], $5::jsonb[], $6::boolean[])
     AS o (external_id, available, quantity, platform_ref, unlimited)
ON CONFLICT (store_id, external_id) DO UPDATE
SET observed_available = excluded.observed_available,
    observed_quantity = excluded.observed_quantity,
    observed_unlimited = excluded.observed_unlimited,
    observed_at = excluded.observed_at,
    -- a readable value again: a store-value problem is over (a write failure stays until a write works)
    last_error = CASE WHEN store_state.value_problem THEN NULL ELSE store_state.last_error END,
    value_problem = false,
    platform_ref = coalesce(excluded.platform_ref, store_state.platform_ref),
    -- the pass that observed this decided with the intent in hand; it is resolved now
    pending_available = NULL, pending_quantity = NULL, pending_at = NULL

-- record_decisions --
-- Drift bookkeeping per variant; `confirm` records the observed value as applied (store already right).
-- An oversold store shows a negative count (status mode confirms by the flag alone); applied counts are
-- never negative (a CHECK), so it is held as 0.
UPDATE store_state s
SET drift_count = d.drift_count,
    overwrite_not_before = d.not_before,
    contested = d.contested,
    applied_available = CASE WHEN d.confirm THEN s.observed_available ELSE s.applied_available END,
    applied_quantity = CASE WHEN d.confirm THEN greatest(s.observed_quantity, 0) ELSE s.applied_quantity END,
    applied_unlimited = CASE WHEN d.confirm THEN s.observed_unlimited ELSE s.applied_unlimited END,
    applied_at = CASE WHEN d.confirm THEN now() ELSE s.applied_at END
FROM unnest($2::text[], $3::integer[], $4::timestamptz[], $5::boolean[], $6::boolean[])
     AS d (external_id, drift_count, not_before, contested, confirm)
WHERE s.store_id = $1 AND s.external_id = d.external_id

-- record_applied --
-- Only items the platform confirmed: applied and observed become the confirmed value.
INSERT INTO store_state (store_id, external_id, applied_available, applied_quantity, applied_unlimited, applied_at,
                         observed_available, observed_quantity, observed_unlimited, observed_at, platform_ref)
SELECT $1, a.external_id, a.available, a.quantity, a.unlimited, now(), a.available, a.quantity, a.unlimited, now(),
       a.platform_ref
FROM unnest($2::text[], $3::boolean[], $4::integer[], $5::jsonb[], $6::boolean[])
     AS a (external_id, available, quantity, platform_ref, unlimited)
ON CONFLICT (store_id, external_id) DO UPDATE
SET applied_available = excluded.applied_available,
    applied_quantity = excluded.applied_quantity,
    applied_unlimited = excluded.applied_unlimited,
    applied_at = excluded.applied_at,
    observed_available = excluded.observed_available,
    observed_quantity = excluded.observed_quantity,
    observed_unlimited = excluded.observed_unlimited,
    observed_at = excluded.observed_at,
    platform_ref = coalesce(excluded.platform_ref, store_state.platform_ref),
    pending_available = NULL, pending_quantity = NULL, pending_at = NULL,
    last_error = NULL,
    value_problem = false,
    failed_attempts = 0

-- record_intents --
-- Before a write batch leaves: what we are about to ask the store to show (see migration 0003).
INSERT INTO store_state (store_id, external_id, pending_available, pending_quantity, pending_at)
SELECT $1, i.external_id, i.available, i.quantity, now()
FROM unnest($2::text[], $3::boolean[], $4::integer[]) AS i (external_id, available, quantity)
ON CONFLICT (store_id, external_id) DO UPDATE
SET pending_available = excluded.pending_available,
    pending_quantity = excluded.pending_quantity,
    pending_at = excluded.pending_at

-- record_overwrite_backoff --
-- An overwrite of a drift was confirmed: the next drift of that variant waits until $3.
UPDATE store_state s SET overwrite_not_before = b.not_before
FROM unnest($2::text[], $3::timestamptz[]) AS b (external_id, not_before)
WHERE s.store_id = $1 AND s.external_id = b.external_id

-- record_failures --
INSERT INTO store_state (store_id, external_id, last_error, failed_attempts)
SELECT $1, f.external_id, f.reason, 1
FROM unnest($2::text[], $3::text[]) AS f (external_id, reason)
ON CONFLICT (store_id, external_id) DO UPDATE
SET last_error = excluded.last_error, value_problem = false, failed_attempts = store_state.failed_attempts + 1

-- record_value_problems --
-- Values a store showed that stocksync cannot hold (daemon/store_values.py): the reason becomes the
-- item's last error for support; the value itself is neither recorded nor planned from.
INSERT INTO store_state (store_id, external_id, last_error, value_problem)
SELECT $1, p.external_id, p.reason, true
FROM unnest($2::text[], $3::text[]) AS p (external_id, reason)
ON CONFLICT (store_id, external_id) DO UPDATE
SET last_error = excluded.last_error, value_problem = true

-- observed_from_notification --
-- A store webhook reported new values: find the synced variant by external id or by a platform ref.
SELECT sv.external_id
FROM synced_variants sv
LEFT JOIN store_state st ON st.store_id = sv.store_id AND st.external_id = sv.external_id
WHERE sv.store_id = $1 AND (sv.external_id = $2 OR st.platform_ref ->> $3 = $2)

-- take_delivery --
-- A store webhook delivery seen for the first time (a row back), or a re-delivery (none).
INSERT INTO webhook_deliveries (store_id, delivery_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING delivery_id

-- take_notified --
-- The items among $2 that no notification stamped later than $3 (the platform's clock) has spoken for;
-- their stamp moves up to $3. An item never notified has no row yet or no stamp: it is taken.
WITH wanted AS (
    SELECT ext FROM unnest($2::text[]) AS ext
), stamped AS (
    UPDATE store_state s SET notified_at = $3
    FROM wanted
    WHERE s.store_id = $1 AND s.external_id = wanted.ext AND (s.notified_at IS NULL OR s.notified_at <= $3)
    RETURNING s.external_id
)
SELECT ext AS external_id FROM wanted
WHERE ext IN (SELECT external_id FROM stamped)
   OR NOT EXISTS (SELECT 1 FROM store_state s WHERE s.store_id = $1 AND s.external_id = wanted.ext)

-- prune_deliveries --
DELETE FROM webhook_deliveries WHERE received_at < now() - make_interval(secs => $1)
