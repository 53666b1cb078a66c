-- stocksync schema, first release. Never edit once released: add a new numbered file instead.
-- Every per-store table has store_id leading its primary key (future distribution column).

CREATE TABLE facilities (
    id          text PRIMARY KEY CHECK (id <> ''),
    country     text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    name        text NOT NULL DEFAULT ''
);

CREATE TABLE regions (
    id          text PRIMARY KEY CHECK (id <> '')
);

CREATE TABLE region_facilities (
    region_id   text NOT NULL REFERENCES regions (id) ON DELETE CASCADE,
    facility_id text NOT NULL REFERENCES facilities (id),
    PRIMARY KEY (region_id, facility_id)
);

CREATE TABLE variants (
    id          text PRIMARY KEY CHECK (id <> ''),
    sku         text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('pod', 'warehouse'))
);

CREATE TABLE facility_stock (
    variant_id        text NOT NULL REFERENCES variants (id),
    facility_id       text NOT NULL REFERENCES facilities (id),
    status            text NOT NULL CHECK (status IN ('in_stock', 'out_of_stock', 'discontinued')),
    quantity          integer CHECK (quantity >= 0),
    source_updated_at timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (variant_id, facility_id)
);
CREATE INDEX facility_stock_facility ON facility_stock (facility_id);

CREATE TABLE stores (
    id                   text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    platform             text NOT NULL CHECK (platform <> ''),
    region_id            text NOT NULL REFERENCES regions (id),
    credential           text NOT NULL CHECK (credential <> ''),
    drift_policy         text NOT NULL DEFAULT 'protect' CHECK (drift_policy IN ('overwrite', 'report', 'protect')),
    mode                 text NOT NULL DEFAULT 'status' CHECK (mode IN ('status', 'quantity')),
    safety_buffer        integer NOT NULL DEFAULT 0 CHECK (safety_buffer >= 0),
    max_quantity         integer CHECK (max_quantity > 0),
    pod_quantity         integer NOT NULL DEFAULT 100 CHECK (pod_quantity > 0),
    full_pass_interval   interval NOT NULL DEFAULT '4 hours' CHECK (full_pass_interval >= '1 minute'),
    settings             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    enabled              boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Scheduling and lease state, kept apart from the store's settings so a re-import never resets it.
CREATE TABLE store_schedule (
    store_id             text PRIMARY KEY REFERENCES stores (id) ON DELETE CASCADE,
    next_pass_at         timestamptz NOT NULL DEFAULT now(),
    lease_owner          text,
    lease_expires_at     timestamptz,
    last_pass_started_at timestamptz,
    last_success_at      timestamptz,
    guard_held_at        timestamptz,
    -- per-store circuit breaker: a broken store backs off without delaying the others
    consecutive_failures integer NOT NULL DEFAULT 0,
    circuit_open_until   timestamptz
);

CREATE TABLE synced_variants (
    store_id     text NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    external_id  text NOT NULL CHECK (external_id <> ''),
    variant_id   text NOT NULL REFERENCES variants (id),
    -- false after a drift was accepted (the store's value wins) or the variant is contested
    sync_enabled boolean NOT NULL DEFAULT true,
    paused_reason text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, external_id)
);
CREATE INDEX synced_variants_variant ON synced_variants (variant_id);

-- observed = what the store shows; applied = what we last wrote or confirmed.
CREATE TABLE store_state (
    store_id              text NOT NULL,
    external_id           text NOT NULL,
    observed_available    boolean,
    observed_quantity     integer,  -- a store may show negative stock (oversold): kept as seen
    observed_at           timestamptz,
    applied_available     boolean,
    applied_quantity      integer CHECK (applied_quantity >= 0),
    applied_at            timestamptz,
    platform_ref          jsonb,
    drift_count           integer NOT NULL DEFAULT 0,
    overwrite_not_before  timestamptz,
    contested             boolean NOT NULL DEFAULT false,
    last_error            text,
    failed_attempts       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, external_id),
    FOREIGN KEY (store_id, external_id) REFERENCES synced_variants (store_id, external_id) ON DELETE CASCADE
);

CREATE TABLE sync_runs (
    store_id     text NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    trigger      text NOT NULL CHECK (trigger IN ('periodic', 'manual', 'event', 'catalog', 'cli', 'webhook')),
    dry_run      boolean NOT NULL DEFAULT false,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    outcome      text NOT NULL DEFAULT 'running'
                 CHECK (outcome IN ('running', 'ok', 'partial', 'held', 'failed')),
    checked      integer NOT NULL DEFAULT 0,
    changed      integer NOT NULL DEFAULT 0,
    drifted      integer NOT NULL DEFAULT 0,
    unknown      integer NOT NULL DEFAULT 0,
    failed       integer NOT NULL DEFAULT 0,
    not_found    integer NOT NULL DEFAULT 0,
    held_reason  text,
    error        text,
    PRIMARY KEY (store_id, id)
);
CREATE INDEX sync_runs_started ON sync_runs (store_id, started_at DESC);

CREATE TABLE drift_records (
    store_id           text NOT NULL,
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    external_id        text NOT NULL,
    variant_id         text NOT NULL,
    -- what we had applied vs what the store showed
    expected_available boolean,
    expected_quantity  integer,
    store_available    boolean,
    store_quantity     integer,
    detected_via       text NOT NULL CHECK (detected_via IN ('pass', 'webhook')),
    run_id             bigint,
    status             text NOT NULL DEFAULT 'open'
                       CHECK (status IN ('open', 'corrected', 'accepted', 'reapplied', 'superseded')),
    -- what the drift policy did: overwritten, held (reported), contested
    action             text NOT NULL CHECK (action IN ('overwritten', 'held', 'contested')),
    occurrences        integer NOT NULL DEFAULT 1,
    detected_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at        timestamptz,
    resolved_by        text,
    PRIMARY KEY (store_id, id),
    FOREIGN KEY (store_id, external_id) REFERENCES synced_variants (store_id, external_id) ON DELETE CASCADE
);
-- one open record per variant: a drift seen again on the next pass updates it, never duplicates it
CREATE UNIQUE INDEX drift_records_one_open ON drift_records (store_id, external_id) WHERE status = 'open';
CREATE INDEX drift_records_id ON drift_records (id);

CREATE TABLE change_log (
    store_id          text NOT NULL,
    id                bigint GENERATED ALWAYS AS IDENTITY,
    run_id            bigint,
    external_id       text NOT NULL,
    variant_id        text NOT NULL,
    before_available  boolean,
    before_quantity   integer,
    after_available   boolean NOT NULL,
    after_quantity    integer,
    reason            text NOT NULL,
    outcome           text NOT NULL CHECK (outcome IN ('applied', 'failed', 'rejected')),
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, id)
);
CREATE INDEX change_log_variant ON change_log (store_id, external_id, created_at);

-- Every accepted upstream event, stored in the transaction that acknowledges it.
CREATE TABLE inbox_events (
    source       text NOT NULL,
    event_id     text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    variant_id   text NOT NULL,
    facility_id  text NOT NULL,
    status       text NOT NULL,
    quantity     integer,
    occurred_at  timestamptz NOT NULL,
    applied      boolean NOT NULL,  -- false when an newer stock row already existed (out of order)
    PRIMARY KEY (source, event_id)
);

-- Work for store workers: a full pass or a set of variants to write now.
CREATE TABLE work_queue (
    store_id     text NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    kind         text NOT NULL CHECK (kind IN ('full_pass', 'variant')),
    external_id  text,
    trigger      text NOT NULL,
    status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    not_before   timestamptz NOT NULL DEFAULT now(),
    enqueued_at  timestamptz NOT NULL DEFAULT now(),
    claimed_by   text,
    claimed_at   timestamptz,
    finished_at  timestamptz,
    last_error   text,
    CHECK ((kind = 'variant') = (external_id IS NOT NULL)),
    PRIMARY KEY (store_id, id)
);
-- deduplicate: one queued item per (store, variant) and one queued full pass per store
CREATE UNIQUE INDEX work_queue_one_queued
    ON work_queue (store_id, kind, coalesce(external_id, '')) WHERE status = 'queued';
CREATE INDEX work_queue_ready ON work_queue (not_before) WHERE status = 'queued';

-- Wake sleeping workers at once when work arrives (they also poll, in case a notification is missed).
CREATE FUNCTION work_queue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('stocksync_work', NEW.store_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER work_queue_notify AFTER INSERT ON work_queue FOR EACH ROW EXECUTE FUNCTION work_queue_notify();
