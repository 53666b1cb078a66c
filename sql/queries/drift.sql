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

-- Drift listings, newest first by (detected_at, id), paged by keyset. One shape per (store given or
-- not) × direction, so that even a generic plan keeps every bound an index condition
-- (migration 0008): a catch-all "store is null or equal" cannot use the store's index.
-- Common parameters: $1 status (open|resolved|all), $2 older than N hours (null: any age),
-- $3/$4 the cursor position (detected_at, id), then the page size and the store where the shape has them.

-- drift_older_page --
-- A page of records older than the cursor (none: from the newest).
SELECT d.id, d.store_id, v.sku, d.external_id, d.variant_id, d.expected_available, d.expected_quantity,
       d.expected_unlimited, d.store_available, d.store_quantity, d.store_unlimited, d.status, d.action,
       d.occurrences, d.detected_via,
       d.detected_at, d.last_seen_at, d.resolved_at, d.resolved_by
FROM drift_records d
JOIN variants v ON v.id = d.variant_id
WHERE (d.detected_at, d.id) < (coalesce($3::timestamptz, 'infinity'), coalesce($4::bigint, 0))
  AND ($1::text = 'all' OR (d.status = 'open') = ($1 = 'open'))
  AND d.detected_at <= coalesce(now() - $2::float8 * interval '1 hour', 'infinity')
ORDER BY d.detected_at DESC, d.id DESC
LIMIT $5

-- drift_older_page_in_store --
SELECT d.id, d.store_id, v.sku, d.external_id, d.variant_id, d.expected_available, d.expected_quantity,
       d.expected_unlimited, d.store_available, d.store_quantity, d.store_unlimited, d.status, d.action,
       d.occurrences, d.detected_via,
       d.detected_at, d.last_seen_at, d.resolved_at, d.resolved_by
FROM drift_records d
JOIN variants v ON v.id = d.variant_id
WHERE d.store_id = $6
  AND (d.detected_at, d.id) < (coalesce($3::timestamptz, 'infinity'), coalesce($4::bigint, 0))
  AND ($1::text = 'all' OR (d.status = 'open') = ($1 = 'open'))
  AND d.detected_at <= coalesce(now() - $2::float8 * interval '1 hour', 'infinity')
ORDER BY d.detected_at DESC, d.id DESC
LIMIT $5

-- drift_newer_page --
-- The records just newer than the cursor, oldest first (the caller reverses them): a previous page.
SELECT d.id, d.store_id, v.sku, d.external_id, d.variant_id, d.expected_available, d.expected_quantity,
       d.expected_unlimited, d.store_available, d.store_quantity, d.store_unlimited, d.status, d.action,
       d.occurrences, d.detected_via,
       d.detected_at, d.last_seen_at, d.resolved_at, d.resolved_by
FROM drift_records d
JOIN variants v ON v.id = d.variant_id
WHERE (d.detected_at, d.id) > ($3::timestamptz, $4::bigint)
  AND ($1::text = 'all' OR (d.status = 'open') = ($1 = 'open'))
  AND d.detected_at <= coalesce(now() - $2::float8 * interval '1 hour', 'infinity')
ORDER BY d.detected_at, d.id
LIMIT $5

-- drift_newer_page_in_store --
SELECT d.id, d.store_id, v.sku, d.external_id, d.variant_id, d.expected_available, d.expected_quantity,
       d.expected_unlimited, d.store_available, d.store_quantity, d.store_unlimited, d.status, d.action,
       d.occurrences, d.detected_via,
       d.detected_at, d.last_seen_at, d.resolved_at, d.resolved_by
FROM drift_records d
JOIN variants v ON v.id = d.variant_id
WHERE d.store_id = $6
  AND (d.detected_at, d.id) > ($3::timestamptz, $4::bigint)
  AND ($1::text = 'all' OR (d.status = 'open') = ($1 = 'open'))
  AND d.detected_at <= coalesce(now() - $2::float8 * interval '1 hour', 'infinity')
ORDER BY d.detected_at, d.id
LIMIT $5

-- count_drift_newer --
-- How many records match and are newer than the position (none: all of them). $5: the store.
SELECT count(*)
FROM drift_records d
WHERE (d.detected_at, d.id) > (coalesce($3::timestamptz, '-infinity'), coalesce($4::bigint, 0))
  AND ($1::text = 'all' OR (d.status = 'open') = ($1 = 'open'))
  AND d.detected_at <= coalesce(now() - $2::float8 * interval '1 hour', 'infinity')

-- count_drift_newer_in_store --
SELECT count(*)
FROM drift_records d
WHERE d.store_id = $5
  AND (d.detected_at, d.id) > (coalesce($3::timestamptz, '-infinity'), coalesce($4::bigint, 0))
  AND ($1::text = 'all' OR (d.status = 'open') = ($1 = 'open'))
  AND d.detected_at <= coalesce(now() - $2::float8 * interval '1 hour', 'infinity')

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
-- Support takes back an accepted store value: the variant is synced again (the caller queues its write).
UPDATE synced_variants SET sync_enabled = true, paused_reason = NULL WHERE store_id = $1 AND external_id = $2
RETURNING external_id
