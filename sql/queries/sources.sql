-- Upstream sources: configuration (imports), pull state (due-ness, requests, lease, validators,
-- freshness) and the snapshot apply (newest wins against facility stock). Run by daemon/db/sources.py.

-- existing_sources --
SELECT id FROM sources WHERE id = ANY ($1::text[])

-- upsert_sources --
-- Settings arrive as JSON text (no jsonb codec needed); updated_at moves only on a real change.
INSERT INTO sources AS so (id, kind, credential, settings, facilities, pull_interval, enabled)
SELECT s.id, s.kind, nullif(s.credential, ''), s.settings::jsonb,
       ARRAY(SELECT unnest(string_to_array(s.facilities, ' ')) ORDER BY 1),
       make_interval(mins => s.interval_minutes), s.enabled
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::boolean[])
     AS s (id, kind, credential, settings, facilities, interval_minutes, enabled)
ON CONFLICT (id) DO UPDATE
SET kind = excluded.kind, credential = excluded.credential, settings = excluded.settings,
    facilities = excluded.facilities, pull_interval = excluded.pull_interval, enabled = excluded.enabled,
    updated_at = now()
WHERE (so.kind, so.credential, so.settings, so.facilities, so.pull_interval, so.enabled)
      IS DISTINCT FROM
      (excluded.kind, excluded.credential, excluded.settings, excluded.facilities, excluded.pull_interval,
       excluded.enabled)
RETURNING (xmax = 0) AS inserted

-- ensure_source_state --
-- A new source is due at once; an existing state (validators, freshness) is never reset.
INSERT INTO source_state (source_id)
SELECT unnest($1::text[])
ON CONFLICT (source_id) DO NOTHING

-- upsert_source_mappings --
INSERT INTO source_mappings AS sm (source_id, external_id, variant_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT (source_id, external_id) DO UPDATE
SET variant_id = excluded.variant_id
WHERE sm.variant_id IS DISTINCT FROM excluded.variant_id
RETURNING (xmax = 0) AS inserted

-- load_source --
SELECT id, kind, credential, settings::text AS settings, facilities,
       extract(epoch FROM pull_interval)::integer AS pull_interval_s, enabled
FROM sources WHERE id = $1

-- source_mappings_of --
SELECT external_id, variant_id FROM source_mappings WHERE source_id = $1

-- request_pull --
-- A full pull asked for: it replaces any partial request (a full one covers it). Returns the source.
UPDATE source_state SET pull_requested_at = now(), requested_ids = NULL
WHERE source_id = $1
RETURNING source_id

-- request_partial_pull --
-- Only these upstream ids; merged into a pending partial request, absorbed by a pending full one.
UPDATE source_state
SET requested_ids = CASE
        WHEN pull_requested_at IS NOT NULL AND requested_ids IS NULL THEN NULL
        ELSE ARRAY(SELECT DISTINCT unnest(coalesce(requested_ids, '{}') || $2::text[]) ORDER BY 1)
    END,
    pull_requested_at = now()
WHERE source_id = $1
RETURNING source_id

-- request_pulls_for_variants --
-- A catalog update: every enabled source covering one of the variants is asked for a full pull (every
-- enabled source when $1 is NULL: the whole catalog changed). A source covers a variant by its
-- mappings; one without mappings speaks our variant ids, so it may cover any variant (a new variant
-- has no stock row yet to tell).
UPDATE source_state ss SET pull_requested_at = now(), requested_ids = NULL
FROM sources s
WHERE s.id = ss.source_id AND s.enabled
  AND ($1::text[] IS NULL
       OR EXISTS (SELECT 1 FROM source_mappings m
               WHERE m.source_id = s.id AND m.variant_id = ANY ($1::text[]))
       OR NOT EXISTS (SELECT 1 FROM source_mappings m WHERE m.source_id = s.id))
RETURNING ss.source_id

-- claim_source_pulls --
-- Due or requested sources whose lease is free or expired; the lease is taken in the same statement
-- (SKIP LOCKED: two replicas never pull one source at once). $1 owner, $2 lease seconds, $3 at most.
-- `only` = one named source (the CLI), NULL = any.
WITH due AS (
    SELECT ss.source_id
    FROM source_state ss JOIN sources s ON s.id = ss.source_id
    WHERE (s.enabled OR $4::text IS NOT NULL)
      AND ($4::text IS NULL OR ss.source_id = $4::text)
      AND ($4::text IS NOT NULL OR ss.next_pull_at <= now() OR ss.pull_requested_at IS NOT NULL)
      AND (ss.lease_expires_at IS NULL OR ss.lease_expires_at < now())
    ORDER BY ss.pull_requested_at NULLS LAST, ss.next_pull_at
    LIMIT $3
    FOR UPDATE OF ss SKIP LOCKED
)
UPDATE source_state ss
SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2), last_attempt_at = now()
FROM due WHERE ss.source_id = due.source_id
RETURNING ss.source_id, ss.pull_requested_at, ss.requested_ids, ss.etag, ss.last_modified

-- finish_source_pull --
-- A successful pull (or a 304): the request it served is cleared unless a newer one came in meanwhile
-- ($3 = the request seen at claim). Only a complete pull ($7) moves validators, freshness and the next
-- due time (interval with jitter $8); a partial one (a few ids) leaves them. Rows $6 NULL (a 304):
-- the rows of the snapshot the upstream just confirmed, kept.
UPDATE source_state ss
SET lease_owner = NULL, lease_expires_at = NULL,
    pull_requested_at = CASE WHEN ss.pull_requested_at IS NOT DISTINCT FROM $3 THEN NULL
                             ELSE ss.pull_requested_at END,
    requested_ids = CASE WHEN ss.pull_requested_at IS NOT DISTINCT FROM $3 THEN NULL
                         ELSE ss.requested_ids END,
    etag = CASE WHEN $7::boolean THEN $4 ELSE ss.etag END,
    last_modified = CASE WHEN $7::boolean THEN $5 ELSE ss.last_modified END,
    last_success_at = CASE WHEN $7::boolean THEN now() ELSE ss.last_success_at END,
    last_rows = CASE WHEN $7::boolean THEN coalesce($6::integer, ss.last_rows) ELSE ss.last_rows END,
    last_error = NULL, consecutive_failures = 0,
    next_pull_at = CASE WHEN $7::boolean
                        THEN now() + s.pull_interval * (1 + $8::float8 * (random() * 2 - 1))
                        ELSE ss.next_pull_at END
FROM sources s
WHERE s.id = ss.source_id AND ss.source_id = $1 AND ss.lease_owner = $2

-- fail_source_pull --
-- A failed or refused pull: the reason kept, the request dropped (it was tried; a pull of a broken
-- upstream would loop), and the next try backed off (1 minute doubling, at most the interval).
UPDATE source_state ss
SET lease_owner = NULL, lease_expires_at = NULL,
    pull_requested_at = CASE WHEN ss.pull_requested_at IS NOT DISTINCT FROM $3 THEN NULL
                             ELSE ss.pull_requested_at END,
    requested_ids = CASE WHEN ss.pull_requested_at IS NOT DISTINCT FROM $3 THEN NULL
                         ELSE ss.requested_ids END,
    last_error = $4, consecutive_failures = ss.consecutive_failures + 1,
    next_pull_at = now() + least(s.pull_interval,
                                 make_interval(secs => 60 * power(2, least(ss.consecutive_failures, 12))))
FROM sources s
WHERE s.id = ss.source_id AND ss.source_id = $1 AND ss.lease_owner = $2

-- source_pull_state --
SELECT s.id, s.kind, s.enabled, extract(epoch FROM s.pull_interval)::integer AS pull_interval_s,
       ss.last_success_at, ss.last_rows, ss.last_error, ss.consecutive_failures, ss.pull_requested_at,
       extract(epoch FROM ss.last_success_at) AS last_success
FROM sources s JOIN source_state ss ON ss.source_id = s.id
WHERE s.id = $1

-- source_freshness --
-- Per enabled source: last success, rows, interval, and stale (no success for $1 intervals since the
-- source was created or last succeeded).
SELECT s.id AS source_id, s.kind, extract(epoch FROM ss.last_success_at) AS last_success,
       ss.last_success_at, ss.last_rows, ss.last_error,
       extract(epoch FROM s.pull_interval)::integer AS pull_interval_s,
       coalesce(ss.last_success_at, s.created_at) < now() - s.pull_interval * $1::integer AS stale
FROM sources s JOIN source_state ss ON ss.source_id = s.id
WHERE s.enabled
ORDER BY s.id

-- variant_kinds_of --
SELECT id, kind FROM variants WHERE id = ANY ($1::text[])

-- apply_snapshot --
-- Newest wins: a row is written only when the stored one is older than the snapshot ($5), or dated
-- beyond the clock skew $6 (see apply_stock_events). The timestamp moves on every newer snapshot so
-- a late, older event cannot undo it; `changed` tells a real value change from a confirmation.
-- Rows absent from the snapshot are not touched: absence is never "out of stock".
WITH incoming AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[])
        AS s (variant_id, facility_id, status, quantity)
), before AS (
    SELECT i.variant_id, i.facility_id,
           (fs.variant_id IS NULL OR (fs.status, fs.quantity) IS DISTINCT FROM (i.status, i.quantity))
               AS changed
    FROM incoming i
    LEFT JOIN facility_stock fs USING (variant_id, facility_id)
), written AS (
    INSERT INTO facility_stock AS fs (variant_id, facility_id, status, quantity, source_updated_at, updated_at)
    SELECT variant_id, facility_id, status, quantity, $5::timestamptz, now() FROM incoming
    ON CONFLICT (variant_id, facility_id) DO UPDATE
    SET status = excluded.status, quantity = excluded.quantity,
        source_updated_at = excluded.source_updated_at,
        updated_at = CASE WHEN (fs.status, fs.quantity) IS DISTINCT FROM (excluded.status, excluded.quantity)
                          THEN now() ELSE fs.updated_at END
    WHERE fs.source_updated_at < excluded.source_updated_at OR fs.source_updated_at > now() + $6::interval
    RETURNING fs.variant_id, fs.facility_id
)
SELECT w.variant_id, w.facility_id FROM written w JOIN before b USING (variant_id, facility_id)
WHERE b.changed
