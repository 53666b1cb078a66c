-- Store leases: a session-level advisory lock per store on a connection the lease holder keeps open
-- (keys in migration 0005). A lock held by a dead session is gone at once.

-- try_store_locks --
-- The first of the candidate stores ($1, in order) whose lock this session could take; no ORDER BY, so
-- rows are tried one by one and the scan stops at the first lock taken.
SELECT s AS store_id FROM unnest($1::text[]) AS s WHERE pg_try_advisory_lock(7301, hashtext(s)) LIMIT 1

-- wait_store_lock --
SELECT pg_advisory_lock(7301, hashtext($1))

-- unlock_store --
SELECT pg_advisory_unlock(7301, hashtext($1))

-- unlock_all_stores --
SELECT pg_advisory_unlock_all()
