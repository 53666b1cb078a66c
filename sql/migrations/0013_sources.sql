-- Upstream sources (issue 20): systems stocksync pulls facility stock from, configured like stores.
-- A source is the truth for its facilities only; `credential` is a NAME resolved at pull time, never
-- a value. `facilities` is checked against the facilities table by the import.
CREATE TABLE sources (
    id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    kind          text NOT NULL,
    credential    text,
    settings      jsonb NOT NULL DEFAULT '{}',
    facilities    text[] NOT NULL CHECK (cardinality(facilities) > 0),
    pull_interval interval NOT NULL DEFAULT interval '240 minutes' CHECK (pull_interval >= interval '1 minute'),
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Upstream id -> our variant, for sources whose upstream does not speak our variant ids.
CREATE TABLE source_mappings (
    source_id   text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    external_id text NOT NULL CHECK (external_id <> ''),
    variant_id  text NOT NULL REFERENCES variants (id),
    PRIMARY KEY (source_id, external_id)
);
CREATE INDEX source_mappings_variant ON source_mappings (variant_id);

-- Pull state, one row per source. Due-ness, requests and the lease live here so any replica may pull
-- and a requested pull survives a restart:
--   pull_requested_at  a pull was asked for (API, CLI, catalog update, callback); requested_ids NULL
--                      means the whole source, else only these upstream ids (a partial pull)
--   lease_owner/_expires_at  the replica pulling now; an expired lease is taken over
--   etag/last_modified       validators of the last successful pull (a 304 then costs nothing)
--   last_error               a reason without secrets (transport messages carry no header or query)
CREATE TABLE source_state (
    source_id            text PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    next_pull_at         timestamptz NOT NULL DEFAULT now(),
    pull_requested_at    timestamptz,
    requested_ids        text[],
    lease_owner          text,
    lease_expires_at     timestamptz,
    etag                 text,
    last_modified        text,
    last_attempt_at      timestamptz,
    last_success_at      timestamptz,
    last_rows            integer,
    last_error           text,
    consecutive_failures integer NOT NULL DEFAULT 0
);

-- A pass started by the store items a source pull queued says so in its run and write history.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_trigger_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_trigger_check
    CHECK (trigger IN ('periodic', 'manual', 'event', 'catalog', 'cli', 'webhook', 'reapply', 'source'));
