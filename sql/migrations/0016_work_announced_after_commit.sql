-- A NOTIFY takes one database-wide lock at commit and holds it through the commit's WAL flush, so every
-- notifying transaction commits in turn: at 2,000 events/s the event batches queued behind each other
-- at COMMIT (sampled pg_stat_activity: "Lock: object"). Stock-event batches therefore queue their work
-- silently and announce it after they commit, in a statement with no write to flush
-- (daemon/db/work_queue.announce_work); other writers of the queue still notify from this trigger.
CREATE OR REPLACE FUNCTION work_queue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('stocksync.announce_after_commit', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('stocksync_work', NEW.store_id);
    END IF;
    RETURN NULL;
END;
$$;
