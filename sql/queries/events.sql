-- Upstream stock events: inbox (idempotent by event id) → facility stock (newest wins); the changed
-- pairs are queued by enqueue_changed.sql.

-- lock_for_stock_change --
-- Before applying: wait for writers of the same variants and for claims of their stores (migration 0005).
SELECT lock_for_stock_change($1::text[], $2)

-- begin_event_batch --
-- The same lock, and the work this transaction queues is announced by the caller after it commits
-- (migration 0016: a NOTIFY inside would make event batches commit one at a time).
SELECT lock_for_stock_change($1::text[], $2), set_config('stocksync.announce_after_commit', 'on', true)

-- lock_for_catalog_change --
SELECT lock_for_catalog_change()

-- ingest_stock_events --
-- Store the batch in the inbox (a duplicate event_id is accepted and ignored) and apply its new events
-- in one statement, from the rows the insert returned: the inbox is never read back, so the cost of a
-- batch does not depend on the inbox's size or on its statistics. The newest new event per (variant,
-- facility) is applied unless the stored row is newer (out of order). A stored row dated more than the
-- clock skew $8 ahead of now was written by a future-dated event from before those were refused
-- (daemon/upstream_events.py): it is not trusted as newer, so the next real event repairs it.
-- Returns one row per changed (variant, facility), each with the count of new events, or a single row
-- with NULL ids when nothing changed.
WITH inserted AS (
    INSERT INTO inbox_events (source, event_id, variant_id, facility_id, status, quantity, occurred_at)
    SELECT $1, e.event_id, e.variant_id, e.facility_id, e.status, e.quantity, e.occurred_at
    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::timestamptz[])
         AS e (event_id, variant_id, facility_id, status, quantity, occurred_at)
    ON CONFLICT (source, event_id) DO NOTHING
    RETURNING event_id, variant_id, facility_id, status, quantity, occurred_at
), newest AS (
    SELECT DISTINCT ON (variant_id, facility_id) variant_id, facility_id, status, quantity, occurred_at
    FROM inserted
    ORDER BY variant_id, facility_id, occurred_at DESC, event_id DESC
), written AS (
    INSERT INTO facility_stock AS fs (variant_id, facility_id, status, quantity, source_updated_at, updated_at)
    SELECT variant_id, facility_id, status, quantity, occurred_at, now() FROM newest
    ON CONFLICT (variant_id, facility_id) DO UPDATE
    SET status = excluded.status, quantity = excluded.quantity,
        source_updated_at = excluded.source_updated_at, updated_at = now()
    WHERE fs.source_updated_at < excluded.source_updated_at OR fs.source_updated_at > now() + $8::interval
    RETURNING fs.variant_id, fs.facility_id
)
SELECT (SELECT count(*) FROM inserted) AS new, w.variant_id, w.facility_id
FROM (SELECT 1) AS one LEFT JOIN written w ON true

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
