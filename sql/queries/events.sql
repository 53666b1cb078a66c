-- Upstream stock events: inbox (idempotent by event id) → facility stock (newest wins); the changed
-- pairs are queued by enqueue_changed.sql.

-- insert_inbox --
-- Returns only events not seen before (a duplicate event_id is accepted and ignored).
INSERT INTO inbox_events (source, event_id, variant_id, facility_id, status, quantity, occurred_at, applied)
SELECT $1, e.event_id, e.variant_id, e.facility_id, e.status, e.quantity, e.occurred_at, false
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::timestamptz[])
     AS e (event_id, variant_id, facility_id, status, quantity, occurred_at)
ON CONFLICT (source, event_id) DO NOTHING
RETURNING event_id

-- lock_for_stock_change --
-- Before applying: wait for writers of the same variants and for claims of their stores (migration 0005).
SELECT lock_for_stock_change($1::text[], $2)

-- lock_for_catalog_change --
SELECT lock_for_catalog_change()

-- apply_stock_events --
-- The newest event per (variant, facility) is applied unless the stored row is newer (out of order).
-- A stored row dated more than the clock skew $3 ahead of now was written by a future-dated event from
-- before those were refused (daemon/upstream_events.py): it is not trusted as newer, so the next
-- real event repairs it.
WITH newest AS (
    SELECT DISTINCT ON (variant_id, facility_id) event_id, variant_id, facility_id, status, quantity, occurred_at
    FROM inbox_events
    WHERE source = $1 AND event_id = ANY ($2)
    ORDER BY variant_id, facility_id, occurred_at DESC, event_id DESC
), written AS (
    INSERT INTO facility_stock AS fs (variant_id, facility_id, status, quantity, source_updated_at, updated_at)
    SELECT variant_id, facility_id, status, quantity, occurred_at, now() FROM newest
    ON CONFLICT (variant_id, facility_id) DO UPDATE
    SET status = excluded.status, quantity = excluded.quantity,
        source_updated_at = excluded.source_updated_at, updated_at = now()
    WHERE fs.source_updated_at < excluded.source_updated_at OR fs.source_updated_at > now() + $3::interval
    RETURNING fs.variant_id, fs.facility_id
), marked AS (
    UPDATE inbox_events i SET applied = true
    FROM newest n JOIN written w USING (variant_id, facility_id)
    WHERE i.source = $1 AND i.event_id = n.event_id
)
SELECT variant_id, facility_id FROM written

-- unknown_references --
-- Which variant and facility ids of a batch do not exist (the batch is refused, naming them).
SELECT 'variant_id' AS field, v AS id FROM unnest($1::text[]) AS v WHERE NOT EXISTS (SELECT 1 FROM variants WHERE id = v)
UNION ALL
SELECT 'facility_id', f FROM unnest($2::text[]) AS f WHERE NOT EXISTS (SELECT 1 FROM facilities WHERE id = f)

-- stores_with_variants --
-- Stores that sync any of the given variants (catalog-updated trigger).
SELECT DISTINCT sv.store_id
FROM synced_variants sv JOIN stores s ON s.id = sv.store_id AND s.enabled
WHERE sv.variant_id = ANY ($1)

-- enabled_store_ids --
SELECT id FROM stores WHERE enabled ORDER BY id

-- prune_inbox --
-- At most $2 accepted events older than $1 seconds (one short statement at a time).
DELETE FROM inbox_events
WHERE (source, event_id) IN (
    SELECT source, event_id FROM inbox_events
    WHERE received_at < now() - make_interval(secs => $1)
    LIMIT $2
)
