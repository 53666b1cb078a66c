-- A write intent per store item: the value we are about to send, recorded before the request leaves.
-- If the daemon dies (or loses its database) after the store took the write but before the answer was
-- stored, the next observation still recognises the value as our own write, not a merchant's edit.
-- Cleared when the store's answer is recorded and by the next observation of the item.
ALTER TABLE store_state
    ADD COLUMN pending_available boolean,
    ADD COLUMN pending_quantity  integer,
    ADD COLUMN pending_at        timestamptz;
