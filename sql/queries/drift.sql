-- Drift records: one open record per variant, closed by the policy, by the store, or by support.

-- open_drift --
-- Opens a record per variant, or refreshes the one already open (never a duplicate per pass).
INSERT INTO drift_records (store_id, external_id, variant_id, expected_available, expected_quantity,
                           store_available, store_quantity, detected_via, run_id, action,
                           expected_unlimited, store_unlimited)
SELECT $1, d.external_id, d.variant_id, d.expected_available, d.expected_quantity, d.store_available,
       d.store_quantity, $2, $3, d.action, d.expected_unlimited, d.store_unlimited
FROM unnest($4::text[], $5::text[], $6::boolean[], $7::integer[], $8::boolean[], $9::integer[], $10::text[],
            $11::boolean[], $12::boolean[])
     AS d (external_id, variant_id, expected_available, expected_quantity, store_available, store_quantity, action,
           expected_unlimited, store_unlimited)
ON CONFLICT (store_id, external_id) WHERE status = 'open' DO UPDATE
SET occurrences = drift_records.occurrences + 1,
    last_seen_at = now(),
    store_available = excluded.store_available,
    store_quantity = excluded.store_quantity,
    store_unlimited = excluded.store_unlimited,
    action = excluded.action
RETURNING external_id, (xmax = 0) AS opened

-- close_drift --
-- $3: corrected (our overwrite was confirmed) or superseded (the store came back in line by itself).
UPDATE drift_records SET status = $3, resolved_at = now(), resolved_by = $4
WHERE store_id = $1 AND external_id = ANY ($2) AND status = 'open'

-- get_drift --
SELECT d.*, v.sku, st.observed_available, st.observed_quantity, st.observed_unlimited
FROM drift_records d
JOIN variants v ON v.id = d.variant_id
LEFT JOIN store_state st ON st.store_id = d.store_id AND st.external_id = d.external_id
WHERE d.id = $1

-- list_drift --
SELECT d.id, d.store_id, v.sku, d.external_id, d.variant_id, d.expected_available, d.expected_quantity,
       d.expected_unlimited, d.store_available, d.store_quantity, d.store_unlimited, d.status, d.action, d.occurrences, d.detected_via,
       d.detected_at, d.last_seen_at, d.resolved_at, d.resolved_by
FROM drift_records d
JOIN variants v ON v.id = d.variant_id
WHERE ($1::text IS NULL OR d.store_id = $1)
  AND ($2::text = 'all' OR ($2 = 'open' AND d.status = 'open') OR ($2 = 'resolved' AND d.status <> 'open'))
ORDER BY d.detected_at DESC, d.id DESC
LIMIT $3

-- resolve_drift --
UPDATE drift_records SET status = $2, resolved_at = now(), resolved_by = $3
WHERE id = $1 AND status = 'open'
RETURNING store_id, external_id

-- accept_store_value --
-- Support took the store's value: it becomes applied (an oversold negative count as 0: applied counts are
-- never negative), and syncing stops for that variant.
WITH paused AS (
    UPDATE synced_variants SET sync_enabled = false, paused_reason = $3
    WHERE store_id = $1 AND external_id = $2
)
UPDATE store_state
SET applied_available = observed_available, applied_quantity = greatest(observed_quantity, 0),
    applied_unlimited = observed_unlimited, applied_at = now(),
    drift_count = 0, contested = false, overwrite_not_before = NULL
WHERE store_id = $1 AND external_id = $2

-- rebase_for_reapply --
-- Support asked for the desired value back: the store's value becomes the baseline (so the next
-- comparison is a plain difference, not drift) and the back-off history is cleared.
UPDATE store_state
SET applied_available = observed_available, applied_quantity = greatest(observed_quantity, 0),
    applied_unlimited = observed_unlimited, applied_at = now(),
    drift_count = 0, contested = false, overwrite_not_before = NULL
WHERE store_id = $1 AND external_id = $2

-- resume_variant --
UPDATE synced_variants SET sync_enabled = true, paused_reason = NULL WHERE store_id = $1 AND external_id = $2
