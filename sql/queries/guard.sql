-- The mass-unavailable guard's store state (daemon/db/guard.py): held since when and why, and which
-- variants' less-sellable writes are held. Every change happens under the store_schedule row lock.

-- guard_state --
SELECT guard_held_at, guard_reason FROM store_schedule WHERE store_id = $1

-- lock_guard --
SELECT guard_held_at FROM store_schedule WHERE store_id = $1 FOR UPDATE

-- trip_guard --
UPDATE store_schedule SET guard_held_at = now(), guard_reason = $2
WHERE store_id = $1 AND guard_held_at IS NULL

-- unhold_items --
-- Variants a pass looked at ($2, or all for a full pass) whose write it did not hold ($3) any more.
-- Set membership through unnest: a hashed join, not a whole-array comparison per row.
DELETE FROM guard_held_items g
WHERE g.store_id = $1
  AND ($2::text[] IS NULL OR g.external_id IN (SELECT unnest($2::text[])))
  AND NOT EXISTS (SELECT 1 FROM unnest($3::text[]) AS h (external_id) WHERE h.external_id = g.external_id)

-- hold_items --
INSERT INTO guard_held_items (store_id, external_id)
SELECT $1, ext FROM unnest($2::text[]) AS ext
ON CONFLICT (store_id, external_id) DO NOTHING

-- release_if_none_held --
UPDATE store_schedule SET guard_held_at = NULL, guard_reason = NULL
WHERE store_id = $1 AND guard_held_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM guard_held_items WHERE store_id = $1)
RETURNING store_id

-- clear_guard --
-- The operator confirmed: nothing is held any more.
WITH dropped AS (DELETE FROM guard_held_items WHERE store_id = $1)
UPDATE store_schedule SET guard_held_at = NULL, guard_reason = NULL WHERE store_id = $1

-- lock_held_stores --
-- Held stores nobody is recording a pass for right now (a locked one is looked at on the next tick).
SELECT store_id FROM store_schedule WHERE guard_held_at IS NOT NULL FOR UPDATE SKIP LOCKED

-- skip_jit --
-- drop_undone_holds is index lookups per held variant: compiling it (PostgreSQL's JIT kicks in on its
-- cost estimate) took longer than running it (0.56 of 1.3 s for 40,000 held variants).
SET LOCAL jit = off

-- drop_undone_holds --
-- Held variants of the stores $1 whose write is no longer less sellable than what we last applied (or,
-- never written, than what the store showed): upstream undid the change. Desired as in state.sql
-- pass_rows; a variant with open drift that support holds, or paused, has no write to hold either.
DELETE FROM guard_held_items g
WHERE g.store_id = ANY ($1::text[])
  AND NOT EXISTS (
    SELECT 1
    FROM synced_variants sv
    JOIN stores s ON s.id = sv.store_id
    JOIN variants v ON v.id = sv.variant_id
    LEFT JOIN store_state st ON st.store_id = sv.store_id AND st.external_id = sv.external_id
    CROSS JOIN LATERAL (
        SELECT count(fs.facility_id) AS carrying,
               coalesce(bool_or(fs.status = 'in_stock'), false) AS any_in_stock,
               coalesce(bool_or(fs.status = 'in_stock' AND fs.quantity IS NULL), false) AS uncounted,
               coalesce(sum(fs.quantity) FILTER (WHERE fs.status = 'in_stock'), 0) AS on_hand
        FROM facility_stock fs
        JOIN region_facilities rf ON rf.facility_id = fs.facility_id AND rf.region_id = s.region_id
        WHERE fs.variant_id = sv.variant_id
    ) stock
    WHERE sv.store_id = g.store_id AND sv.external_id = g.external_id AND sv.sync_enabled
      AND NOT EXISTS (
          SELECT 1 FROM drift_records dr
          WHERE dr.store_id = sv.store_id AND dr.external_id = sv.external_id AND dr.status = 'open'
            AND dr.action IN ('held', 'contested')
      )
      AND less_sellable(
          s.mode,
          desired_available(v.kind, stock.carrying, stock.any_in_stock, stock.uncounted, stock.on_hand,
                            s.safety_buffer),
          desired_quantity(v.kind, s.mode, stock.carrying, stock.any_in_stock, stock.uncounted, stock.on_hand,
                           s.safety_buffer, s.max_quantity, s.pod_quantity),
          CASE WHEN st.applied_available IS NOT NULL THEN st.applied_available ELSE st.observed_available END,
          CASE WHEN st.applied_available IS NOT NULL THEN st.applied_quantity ELSE st.observed_quantity END
      )
  )

-- release_stores_none_held --
UPDATE store_schedule sch SET guard_held_at = NULL, guard_reason = NULL
WHERE sch.store_id = ANY ($1::text[]) AND sch.guard_held_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM guard_held_items g WHERE g.store_id = sch.store_id)
RETURNING sch.store_id
