-- Sync runs, the change log of every write, and store schedule marks set by a pass.

-- start_run --
INSERT INTO sync_runs (store_id, trigger, dry_run) VALUES ($1, $2, $3) RETURNING id

-- finish_run --
UPDATE sync_runs
SET finished_at = now(), outcome = $3, checked = $4, changed = $5, drifted = $6, unknown = $7,
    failed = $8, not_found = $9, held_reason = $10, error = $11
WHERE store_id = $1 AND id = $2

-- log_changes --
INSERT INTO change_log (store_id, run_id, external_id, variant_id, before_available, before_quantity,
                        after_available, after_quantity, reason, outcome, error)
SELECT $1, $2, c.external_id, c.variant_id, c.before_available, c.before_quantity, c.after_available,
       c.after_quantity, c.reason, c.outcome, c.error
FROM unnest($3::text[], $4::text[], $5::boolean[], $6::integer[], $7::boolean[], $8::integer[], $9::text[],
            $10::text[], $11::text[])
     AS c (external_id, variant_id, before_available, before_quantity, after_available, after_quantity, reason,
           outcome, error)

-- mark_pass_succeeded --
-- Not the guard: a held store is released by confirmation or an undo only (guard.sql).
UPDATE store_schedule SET last_success_at = now() WHERE store_id = $1

-- recent_runs --
SELECT id, trigger, dry_run, started_at, finished_at, outcome, checked, changed, drifted, unknown, failed,
       not_found, held_reason, error
FROM sync_runs WHERE store_id = $1 ORDER BY started_at DESC LIMIT $2
