-- The inbox keeps events as received. Its `applied` flag (false for an event older than the stock row)
-- was never read, and setting it made every batch look its events up again after applying them: a
-- second pass over the inbox whose plan depended on the inbox's statistics (a nested loop over the
-- whole inbox when they were stale). Batches are now applied from the rows their insert returned.
ALTER TABLE inbox_events DROP COLUMN applied;
