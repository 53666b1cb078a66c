-- The work queue keeps finished items only for a while (sync.done_retention_s, failed_retention_s),
-- and the claim queries read only unfinished ones: an index over queued and running items, so a
-- claim costs the same after a million events as after ten (it used to scan every finished item).
CREATE INDEX work_queue_active ON work_queue (store_id, not_before) WHERE status IN ('queued', 'running');
CREATE INDEX work_queue_finished ON work_queue (finished_at) WHERE status IN ('done', 'failed');
