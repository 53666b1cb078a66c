-- The mass-unavailable guard holds a store, not one pass (daemon/guard.py). store_schedule.guard_held_at
-- says since when the store is held; these add why, and which less-sellable writes are held.

ALTER TABLE store_schedule ADD COLUMN guard_reason text;

-- One row per synced variant whose less-sellable write a pass held. Rows are only written or deleted
-- under the store's store_schedule row lock, so a trip, a confirm and a release never interleave.
-- The store is released when none is left: written by the confirm pass, or upstream undid the change.
CREATE TABLE guard_held_items (
    store_id    text NOT NULL,
    external_id text NOT NULL,
    held_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, external_id),
    FOREIGN KEY (store_id, external_id) REFERENCES synced_variants (store_id, external_id) ON DELETE CASCADE
);

-- Whether value a is less sellable than value b (daemon/guard.less_sellable; a property test keeps the
-- two equal): sellable → unsellable, or in quantity mode a lower count where both sides have one.
-- b unknown (never written, untracked): only an unsellable a is less. a unknown: never (not written).
CREATE FUNCTION less_sellable(
    mode text, a_available boolean, a_quantity integer, b_available boolean, b_quantity integer
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN a_available IS NULL THEN false
                WHEN b_available IS NULL THEN NOT a_available
                WHEN a_available <> b_available THEN b_available
                WHEN mode = 'quantity' AND a_quantity IS NOT NULL AND b_quantity IS NOT NULL
                    THEN a_quantity < b_quantity
                ELSE false
           END
$$;
