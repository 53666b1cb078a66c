-- One synced variant's story for support staff: what upstream says, what we wrote, what drifted.

-- variant_overview --
SELECT sv.store_id, sv.external_id, sv.variant_id, v.sku, v.kind, sv.sync_enabled, sv.paused_reason,
       s.region_id, s.mode, s.drift_policy,
       st.observed_available, st.observed_quantity, st.observed_unlimited, st.observed_at,
       st.applied_available, st.applied_quantity, st.applied_unlimited, st.applied_at, st.last_error,
       st.contested
FROM synced_variants sv
JOIN variants v ON v.id = sv.variant_id
JOIN stores s ON s.id = sv.store_id
LEFT JOIN store_state st ON st.store_id = sv.store_id AND st.external_id = sv.external_id
WHERE sv.store_id = $1 AND sv.external_id = $2

-- variant_facilities --
-- Every facility that carries the variant, and whether it counts for this store's selling region.
SELECT fs.facility_id, f.country, f.name, fs.status, fs.quantity, fs.source_updated_at,
       EXISTS (SELECT 1 FROM region_facilities rf WHERE rf.region_id = $2 AND rf.facility_id = fs.facility_id)
           AS in_region
FROM facility_stock fs JOIN facilities f ON f.id = fs.facility_id
WHERE fs.variant_id = $1
ORDER BY in_region DESC, fs.facility_id

-- variant_writes --
SELECT c.id, c.run_id, r.trigger, c.before_available, c.before_quantity, c.after_available, c.after_quantity,
       c.reason, c.outcome, c.error, c.created_at
FROM change_log c LEFT JOIN sync_runs r ON r.store_id = c.store_id AND r.id = c.run_id
WHERE c.store_id = $1 AND c.external_id = $2
ORDER BY c.created_at DESC, c.id DESC
LIMIT 200

-- variant_drift --
SELECT id, expected_available, expected_quantity, expected_unlimited, store_available, store_quantity,
       store_unlimited, detected_via, status,
       action, occurrences, detected_at, last_seen_at, resolved_at, resolved_by
FROM drift_records WHERE store_id = $1 AND external_id = $2
ORDER BY detected_at DESC, id DESC
LIMIT 200
