-- A drift `reapply` runs its own pass: its run and its writes say so instead of passing for a manual
-- pull whose writes read "desired changed".
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_trigger_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_trigger_check
    CHECK (trigger IN ('periodic', 'manual', 'event', 'catalog', 'cli', 'webhook', 'reapply'));
