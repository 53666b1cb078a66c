-- Queue changed pairs: which (store, synced variant) pairs need a write, queued as work items. This
-- only picks pairs; what to write is decided per variant by the pass (daemon/planner.py).
-- The pass that takes an item observes the store and applies drift policy, back-off and the guard.
-- A store with a pass in flight gets its pairs queued even when desired equals applied: that pass may
-- be writing an older desired value. Two shapes of one rule, so each keeps a plan that fits its size.

-- enqueue_changed_variants --
-- After upstream changes to the variant ids $1 (a few): index lookups from those variants outwards.
WITH rs AS (
    SELECT * FROM region_stock WHERE variant_id = ANY ($1::text[])
), desired AS (
    SELECT sv.store_id, sv.external_id, s.mode, busy.store_id IS NOT NULL AS busy,
           desired_available(v.kind, rs.carrying, rs.any_in_stock, rs.uncounted, rs.on_hand, s.safety_buffer)
               AS available,
           desired_quantity(v.kind, s.mode, rs.carrying, rs.any_in_stock, rs.uncounted, rs.on_hand,
                            s.safety_buffer, s.max_quantity, s.pod_quantity) AS quantity
    FROM rs
    JOIN synced_variants sv ON sv.variant_id = rs.variant_id AND sv.sync_enabled
    JOIN stores s ON s.id = sv.store_id AND s.enabled AND s.region_id = rs.region_id
    JOIN variants v ON v.id = sv.variant_id
    LEFT JOIN stores_in_pass busy ON busy.store_id = sv.store_id
)
INSERT INTO work_queue (store_id, kind, external_id, trigger)
SELECT d.store_id, 'variant', d.external_id, $2
FROM desired d
LEFT JOIN store_state st ON st.store_id = d.store_id AND st.external_id = d.external_id
WHERE d.available IS NOT NULL
  AND (d.busy OR needs_write(d.mode, d.available, d.quantity, st.applied_available, st.applied_quantity,
                                  st.applied_unlimited))
ON CONFLICT (store_id, kind, coalesce(external_id, '')) WHERE status = 'queued' DO NOTHING

-- enqueue_changed_all --
-- After a catalog-wide change (a stock import): every synced pair of every enabled store, hash joins.
WITH desired AS (
    SELECT sv.store_id, sv.external_id, s.mode, busy.store_id IS NOT NULL AS busy,
           st.applied_available, st.applied_quantity, st.applied_unlimited,
           desired_available(v.kind, rs.carrying, rs.any_in_stock, rs.uncounted, rs.on_hand, s.safety_buffer)
               AS available,
           desired_quantity(v.kind, s.mode, rs.carrying, rs.any_in_stock, rs.uncounted, rs.on_hand,
                            s.safety_buffer, s.max_quantity, s.pod_quantity) AS quantity
    FROM synced_variants sv
    JOIN stores s ON s.id = sv.store_id AND s.enabled
    JOIN variants v ON v.id = sv.variant_id
    LEFT JOIN store_state st ON st.store_id = sv.store_id AND st.external_id = sv.external_id
    LEFT JOIN stores_in_pass busy ON busy.store_id = sv.store_id
    -- LEFT keeps PostgreSQL from joining this small aggregate first on a guessed row count
    LEFT JOIN region_stock rs ON rs.region_id = s.region_id AND rs.variant_id = sv.variant_id
    WHERE sv.sync_enabled
)
INSERT INTO work_queue (store_id, kind, external_id, trigger)
SELECT d.store_id, 'variant', d.external_id, $1
FROM desired d
WHERE d.available IS NOT NULL
  AND (d.busy OR needs_write(d.mode, d.available, d.quantity, d.applied_available, d.applied_quantity,
                                  d.applied_unlimited))
ON CONFLICT (store_id, kind, coalesce(external_id, '')) WHERE status = 'queued' DO NOTHING
