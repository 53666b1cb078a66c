-- The work queue: enqueue (deduplicated), claim a store under a lease (SKIP LOCKED), finish items.

-- enqueue_full_pass --
INSERT INTO work_queue (store_id, kind, trigger) VALUES ($1, 'full_pass', $2)
ON CONFLICT (store_id, kind, coalesce(external_id, '')) WHERE status = 'queued' DO NOTHING
RETURNING id

-- enqueue_variants --
INSERT INTO work_queue (store_id, kind, external_id, trigger)
SELECT $1, 'variant', ext, $3 FROM unnest($2::text[]) AS ext
ON CONFLICT (store_id, kind, coalesce(external_id, '')) WHERE status = 'queued' DO NOTHING

-- enqueue_variants_at --
-- Items that must not run before a given time (an overwrite waiting for its drift back-off); a queued
-- twin keeps the earlier of the two times.
INSERT INTO work_queue (store_id, kind, external_id, trigger, not_before)
SELECT $1, 'variant', v.ext, $4, v.not_before FROM unnest($2::text[], $3::timestamptz[]) AS v (ext, not_before)
ON CONFLICT (store_id, kind, coalesce(external_id, '')) WHERE status = 'queued' DO UPDATE
SET not_before = least(work_queue.not_before, excluded.not_before)

-- enqueue_due_passes --
-- Periodic passes: each due store gets a full pass and its next due time (interval with jitter).
-- The row lock makes two replicas enqueue a due store once.
WITH due AS (
    SELECT sch.store_id, st.full_pass_interval
    FROM store_schedule sch JOIN stores st ON st.id = sch.store_id
    WHERE st.enabled AND sch.next_pass_at <= now()
    FOR UPDATE OF sch SKIP LOCKED
), scheduled AS (
    UPDATE store_schedule sch
    SET next_pass_at = now() + due.full_pass_interval * (1 + $1::float8 * (random() * 2 - 1))
    FROM due WHERE sch.store_id = due.store_id
    RETURNING sch.store_id
)
INSERT INTO work_queue (store_id, kind, trigger)
SELECT store_id, 'full_pass', 'periodic' FROM scheduled
ON CONFLICT (store_id, kind, coalesce(external_id, '')) WHERE status = 'queued' DO NOTHING
RETURNING store_id

-- ready_stores --
-- Stores with ready work (or items a dead or failed holder left running) whose circuit is closed, oldest
-- work first, except those this process already works ($1); the caller then tries their locks.
SELECT q.store_id
FROM work_queue q
JOIN store_schedule sch ON sch.store_id = q.store_id
WHERE ((q.status = 'queued' AND q.not_before <= now()) OR q.status = 'running')
  AND (sch.circuit_open_until IS NULL OR sch.circuit_open_until <= now())
  AND NOT (q.store_id = ANY ($1::text[]))
GROUP BY q.store_id
ORDER BY min(q.not_before), min(q.id)
LIMIT $2

-- lock_for_claim --
SELECT lock_for_claim($1)

-- claim_store_work --
-- Run with the store's lock held, after lock_for_claim in the same transaction: marks the store as in a
-- pass, closes runs a dead holder left 'running', and takes its ready items and any left running (the
-- lock is ours, so nobody works them). Claiming counts no attempt: only a failed attempt does.
WITH marked AS (
    UPDATE store_schedule SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3)
    WHERE store_id = $1
), abandoned AS (
    UPDATE sync_runs SET outcome = 'failed', finished_at = now(),
                         error = 'abandoned: the process running this pass stopped'
    WHERE store_id = $1 AND outcome = 'running'
)
UPDATE work_queue
SET status = 'running', claimed_by = $2, claimed_at = now()
WHERE store_id = $1 AND ((status = 'queued' AND not_before <= now()) OR status = 'running')
RETURNING id, kind, external_id, trigger, enqueued_at, attempts

-- claim_express_items --
-- While a full pass of the store runs under our lock: its ready variant items (an event's write must
-- not wait minutes behind a pass of a large store); the pass itself skips writes they supersede.
UPDATE work_queue
SET status = 'running', claimed_by = $2, claimed_at = now()
WHERE store_id = $1 AND status = 'queued' AND kind = 'variant' AND not_before <= now()
RETURNING id, kind, external_id, trigger, enqueued_at, attempts

-- renew_pass_mark --
-- The "in a pass" mark (lease_owner, lease_expires_at: see the stores_in_pass view, migration 0005).
UPDATE store_schedule SET lease_expires_at = now() + make_interval(secs => $3)
WHERE store_id = $1 AND lease_owner = $2

-- clear_pass_mark --
UPDATE store_schedule SET lease_owner = NULL, lease_expires_at = NULL WHERE store_id = $1 AND lease_owner = $2

-- complete_items --
-- Items done and the store's failure streak reset, in one commit; a store without a streak is not
-- rewritten (a write to flush for every finished batch otherwise).
WITH done AS (
    UPDATE work_queue SET status = 'done', finished_at = now(), last_error = NULL
    WHERE store_id = $1 AND id = ANY ($2)
)
UPDATE store_schedule SET consecutive_failures = 0, circuit_open_until = NULL
WHERE store_id = $1 AND (consecutive_failures <> 0 OR circuit_open_until IS NOT NULL)

-- retry_items --
-- A failed attempt: back to the queue with exponential back-off, or failed for good after $4 of them.
UPDATE work_queue
SET attempts = attempts + 1,
    status = CASE WHEN attempts + 1 >= $4 THEN 'failed' ELSE 'queued' END,
    not_before = now() + make_interval(secs => least($5::float8 * 2 ^ attempts, 3600)),
    finished_at = CASE WHEN attempts + 1 >= $4 THEN now() END,
    last_error = $3
WHERE store_id = $1 AND id = ANY ($2)
  AND NOT EXISTS (SELECT 1 FROM work_queue d WHERE d.store_id = $1 AND d.status = 'queued'
                  AND d.kind = work_queue.kind AND coalesce(d.external_id, '') = coalesce(work_queue.external_id, ''))

-- drop_superseded --
-- Items whose retry would duplicate a newer queued item of the same pair are done: the newer one covers them.
UPDATE work_queue SET status = 'done', finished_at = now(), last_error = 'superseded by a newer queued item'
WHERE store_id = $1 AND id = ANY ($2) AND status = 'running'

-- release_items --
-- Shutdown or a lost lease: put claimed items back (no attempt was made).
UPDATE work_queue SET status = 'queued', claimed_by = NULL
WHERE store_id = $1 AND id = ANY ($2) AND status = 'running'
  AND NOT EXISTS (SELECT 1 FROM work_queue d WHERE d.store_id = $1 AND d.status = 'queued'
                  AND d.kind = work_queue.kind AND coalesce(d.external_id, '') = coalesce(work_queue.external_id, ''))

-- record_store_failure --
-- Opens the circuit for an exponentially growing time once failures repeat.
UPDATE store_schedule
SET consecutive_failures = consecutive_failures + 1,
    circuit_open_until = CASE WHEN consecutive_failures + 1 >= $2
        THEN now() + make_interval(secs => least($3::float8 * 2 ^ (consecutive_failures + 1 - $2), 900)) END
WHERE store_id = $1
RETURNING consecutive_failures, circuit_open_until

-- queue_depth --
SELECT count(*) AS depth, extract(epoch FROM now() - min(enqueued_at)) AS oldest_age_s
FROM work_queue WHERE status = 'queued'

-- prune_finished --
-- At most $3 finished items past their retention: done after $1 seconds, failed after $2 seconds
-- (what was written stays in the change log; a failed item stays visible longer for support).
DELETE FROM work_queue
WHERE (store_id, id) IN (
    SELECT store_id, id FROM work_queue
    WHERE status IN ('done', 'failed')
      AND finished_at < now() - make_interval(secs => CASE WHEN status = 'done' THEN $1::float8 ELSE $2::float8 END)
    LIMIT $3
)

-- announce_work --
-- After a commit that queued work silently (begin_event_batch): wake the listening workers of every
-- replica. Writes nothing, so it flushes no WAL while it holds the notification lock.
SELECT pg_notify('stocksync_work', '')
