-- Outbound notifications of active alerts (daemon/notify.py, daemon/alerts.py).

-- Since when a store's passes fail: set by the first failure after a success, cleared by a success
-- (a trigger, so the workers' failure and success statements stay as they are). The store_failing
-- alert fires once this is older than notify.failing_after_s.
ALTER TABLE store_schedule ADD COLUMN failing_since timestamptz;
UPDATE store_schedule SET failing_since = now() WHERE consecutive_failures > 0;

CREATE FUNCTION track_failing_since() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.consecutive_failures = 0 THEN
        NEW.failing_since := NULL;
    ELSIF NEW.failing_since IS NULL THEN
        NEW.failing_since := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER store_schedule_failing_since
BEFORE UPDATE OF consecutive_failures ON store_schedule
FOR EACH ROW EXECUTE FUNCTION track_failing_since();

-- What was last sent per alert and channel: the dedupe state every replica shares. An alert firing
-- with no row (or a resolved one) is news; a firing row is reminded after notify.reminder_s; a firing
-- row whose alert is gone is sent once as resolved. The alert's last details are kept so the resolved
-- message can say what ended.
CREATE TABLE notification_state (
    alert_key     text NOT NULL CHECK (alert_key <> ''),
    channel       text NOT NULL CHECK (channel IN ('webhook', 'email')),
    state         text NOT NULL CHECK (state IN ('firing', 'resolved')),
    revision      text NOT NULL DEFAULT '',
    kind          text NOT NULL,
    store_id      text,
    platform      text,
    summary       text NOT NULL,
    since         timestamptz NOT NULL,
    first_sent_at timestamptz NOT NULL DEFAULT now(),
    last_sent_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_key, channel)
);

-- One row per message handed to a channel (a summary of rate-limited ones counts once): the
-- per-channel hourly budget counts these. Pruned after a day.
CREATE TABLE notification_sends (
    channel   text NOT NULL,
    id        bigint GENERATED ALWAYS AS IDENTITY,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    alert_key text NOT NULL,
    state     text NOT NULL,
    PRIMARY KEY (channel, id)
);
CREATE INDEX notification_sends_recent ON notification_sends (channel, sent_at);

-- The single row a replica locks (FOR UPDATE SKIP LOCKED) while it plans and records notifications:
-- two replicas never plan the same send; the other one skips that cycle.
CREATE TABLE notification_cycle (
    id           integer PRIMARY KEY CHECK (id = 1),
    evaluated_at timestamptz
);
INSERT INTO notification_cycle (id) VALUES (1);
