-- The availability rules (daemon/rules.py) as two SQL functions, so the per-store pass query and the
-- set-based planner over all stores share one definition. Inputs are a variant's stock aggregated over
-- its store's region: facilities carrying it, any in stock, any in stock without a count, units on hand.
-- Plain SQL functions, IMMUTABLE: PostgreSQL inlines them into the calling query.

CREATE FUNCTION desired_available(
    kind text, carrying bigint, any_in_stock boolean, uncounted boolean, on_hand bigint, safety_buffer integer
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN carrying = 0 THEN NULL               -- no carrying facility: unknown, never written
                WHEN kind = 'pod' THEN any_in_stock
                WHEN uncounted THEN NULL                   -- in stock somewhere without a count
                ELSE on_hand - safety_buffer > 0
           END
$$;

CREATE FUNCTION desired_quantity(
    kind text, mode text, carrying bigint, any_in_stock boolean, uncounted boolean, on_hand bigint,
    safety_buffer integer, max_quantity integer, pod_quantity integer
) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN mode = 'status' OR carrying = 0 THEN NULL
                WHEN kind = 'pod' THEN
                    CASE WHEN any_in_stock THEN least(pod_quantity, max_quantity) ELSE 0 END
                WHEN uncounted THEN NULL
                ELSE least(greatest(on_hand - safety_buffer, 0), max_quantity)::integer
           END
$$;

-- Every variant's stock aggregated over each region's facilities: the inputs of the functions above
-- for the set-based planner (a filter on variant_id reaches facility_stock's index through the view).
CREATE VIEW region_stock AS
SELECT rf.region_id, fs.variant_id,
       count(*) AS carrying,
       bool_or(fs.status = 'in_stock') AS any_in_stock,
       bool_or(fs.status = 'in_stock' AND fs.quantity IS NULL) AS uncounted,
       coalesce(sum(fs.quantity) FILTER (WHERE fs.status = 'in_stock'), 0) AS on_hand
FROM facility_stock fs
JOIN region_facilities rf ON rf.facility_id = fs.facility_id
GROUP BY rf.region_id, fs.variant_id;

-- Whether a store must be written to show desired, given what we last applied: compared the way the
-- storefront would (daemon/rules.same_value); unknown desired is never written, nothing applied yet is.
CREATE FUNCTION needs_write(
    mode text, desired_available boolean, desired_quantity integer, applied_available boolean,
    applied_quantity integer
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT desired_available IS NOT NULL AND NOT coalesce(
        CASE WHEN mode = 'quantity' AND desired_quantity IS NOT NULL AND applied_quantity IS NOT NULL
             THEN desired_quantity = applied_quantity
             ELSE desired_available = applied_available
        END, false)
$$;

-- Stores with a pass in flight (an hour at most: a killed replica's run row stays 'running' for good);
-- the planner queues their changed pairs even when desired equals applied. Only those rows are read.
CREATE INDEX sync_runs_running ON sync_runs (store_id) WHERE outcome = 'running';
CREATE VIEW stores_in_pass AS
SELECT DISTINCT store_id FROM sync_runs WHERE outcome = 'running' AND started_at > now() - interval '1 hour';
