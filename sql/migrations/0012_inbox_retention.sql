-- Accepted upstream events are kept for retention.inbox_events_s, then pruned in bounded batches by
-- their arrival time (the inbox would otherwise grow without end and every lookup with it). A duplicate
-- delivered after the retention is no longer recognised: it is applied again, which newest-wins makes
-- harmless unless it is older than the stock row, in which case it changes nothing either.
CREATE INDEX inbox_events_received ON inbox_events (received_at);
