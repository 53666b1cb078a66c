-- Store leases bound to a database session, and a gate between stock writers and pass claims.
--
-- Advisory lock keys (two-int form, namespace first):
--   7301, hashtext(store)   session lock: the replica (or CLI) working the store. PostgreSQL drops it the
--                           moment that session's connection dies, so a killed replica's stores are taken
--                           over at once, and a replica that is merely slow keeps its store while it writes.
--   7302, hashtext(store)   transaction lock: stock writers share it, a claim takes it alone, so a pass
--                           starts only after every stock change already planned for its store committed.
--   7303, hashtext(variant) transaction lock: stock writers of one variant take turns, so each plans from
--                           the other's committed rows (two facilities going out at once both count).
--   7304, 1                 stock gate: events share it, a catalog-wide change (import) takes it alone.
--   7304, 2                 claim gate: claims share it; a stock change touching too many stores to lock
--                           one by one takes it alone.
-- Keys are taken in one order (gates, variants, stores; ascending within each), so writers never deadlock.

-- A stock change about to be applied for these variants: wait for writers of the same variants and for
-- claims of the stores that sync them; past max_keys distinct ids take the whole gate instead of one
-- lock per id (the lock table is shared and bounded).
CREATE FUNCTION lock_for_stock_change(variant_ids text[], max_keys integer) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    key integer;
BEGIN
    IF (SELECT count(DISTINCT v) FROM unnest(variant_ids) AS v) > max_keys THEN
        PERFORM pg_advisory_xact_lock(7304, 1);
    ELSE
        PERFORM pg_advisory_xact_lock_shared(7304, 1);
        FOR key IN SELECT DISTINCT hashtext(v) FROM unnest(variant_ids) AS v ORDER BY 1 LOOP
            PERFORM pg_advisory_xact_lock(7303, key);
        END LOOP;
    END IF;
    IF (SELECT count(DISTINCT store_id) FROM synced_variants WHERE variant_id = ANY (variant_ids)) > max_keys THEN
        PERFORM pg_advisory_xact_lock(7304, 2);
    ELSE
        FOR key IN SELECT DISTINCT hashtext(store_id) FROM synced_variants WHERE variant_id = ANY (variant_ids)
                   ORDER BY 1 LOOP
            PERFORM pg_advisory_xact_lock_shared(7302, key);
        END LOOP;
    END IF;
END;
$$;

-- A catalog-wide change (an import): alone against every stock writer and every claim.
CREATE FUNCTION lock_for_catalog_change() RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT pg_advisory_xact_lock(7304, 1), pg_advisory_xact_lock(7304, 2)
$$;

-- A claim of a store's work: after every stock change already planned for the store has committed.
CREATE FUNCTION lock_for_claim(store text) RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT pg_advisory_xact_lock_shared(7304, 2), pg_advisory_xact_lock(7302, hashtext(store))
$$;

-- A store is "in a pass" from the moment its work is claimed (the lease mark is set in the claim's own
-- transaction) until it is released; a dead replica's mark expires with its lease. The planner queues
-- every changed pair of such a store, since the pass may be writing an older value.
CREATE OR REPLACE VIEW stores_in_pass AS
SELECT store_id FROM store_schedule WHERE lease_owner IS NOT NULL AND lease_expires_at > now();
CREATE INDEX store_schedule_leased ON store_schedule (store_id) WHERE lease_owner IS NOT NULL;
