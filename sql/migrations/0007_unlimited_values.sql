-- "Unlimited" is a store value of its own: an item the store sells without a count (HubRise: no
-- inventory entry; WooCommerce: stock not managed). In quantity mode it differs from every count, so
-- an applied count that the store turned into unlimited is drift, and a store that shows unlimited
-- gets the desired count written (daemon/rules.same_value). Status mode only compares the flag.
ALTER TABLE store_state
    ADD COLUMN observed_unlimited boolean NOT NULL DEFAULT false,
    ADD COLUMN applied_unlimited  boolean NOT NULL DEFAULT false,
    -- last_error is a value the store showed that stocksync cannot hold (daemon/store_values.py),
    -- not a failed write: the next readable observation clears it
    ADD COLUMN value_problem      boolean NOT NULL DEFAULT false;
ALTER TABLE drift_records
    ADD COLUMN expected_unlimited boolean NOT NULL DEFAULT false,
    ADD COLUMN store_unlimited    boolean NOT NULL DEFAULT false;

-- Before this, a quantity-mode store's "available, no count" could only come from a store showing
-- no count (we always write one): call it unlimited, so the upgrade opens no false drift and the
-- next pass writes the desired counts as a plain difference.
UPDATE store_state st
SET observed_unlimited = (st.observed_available AND st.observed_quantity IS NULL),
    applied_unlimited = (st.applied_available AND st.applied_quantity IS NULL)
FROM stores s
WHERE s.id = st.store_id AND s.mode = 'quantity'
  AND ((st.observed_available AND st.observed_quantity IS NULL)
       OR (st.applied_available AND st.applied_quantity IS NULL));

-- needs_write (migration 0002) learns applied_unlimited: the planner's SQL twin of same_value.
-- Desired is never unlimited, so in quantity mode an unlimited store always needs the count.
DROP FUNCTION needs_write(text, boolean, integer, boolean, integer);
CREATE OR REPLACE FUNCTION needs_write(
    mode text, desired_available boolean, desired_quantity integer, applied_available boolean,
    applied_quantity integer, applied_unlimited boolean
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT desired_available IS NOT NULL AND NOT coalesce(
        CASE WHEN mode = 'quantity' AND applied_unlimited THEN false
             WHEN mode = 'quantity' AND desired_quantity IS NOT NULL AND applied_quantity IS NOT NULL
             THEN desired_quantity = applied_quantity
             ELSE desired_available = applied_available
        END, false)
$$;
