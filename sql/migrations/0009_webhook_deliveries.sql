-- Store webhook deliveries already taken, by the platform's own delivery (or event) id: a re-delivery
-- of an old notification must not reopen drift with stale data. Pruned after sync.failed_retention_s.
CREATE TABLE webhook_deliveries (
    store_id     text NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    delivery_id  text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, delivery_id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

-- The platform's own stamp of the latest store notification taken for an item (its clock, not ours):
-- a notification stamped earlier speaks of an older change and is not taken.
ALTER TABLE store_state ADD COLUMN notified_at timestamptz;
