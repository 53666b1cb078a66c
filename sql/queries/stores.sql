-- Stores: connected shops (settings, rules, credential *name*) and their schedule row.

-- existing_stores --
SELECT id FROM stores WHERE id = ANY ($1::text[])

-- upsert_stores --
-- Settings arrive as JSON text so the query does not depend on a connection's jsonb codec.
-- updated_at moves only when a value really changes.
INSERT INTO stores AS st (id, platform, region_id, credential, drift_policy, mode, safety_buffer,
                          max_quantity, pod_quantity, full_pass_interval, settings, enabled)
SELECT s.id, s.platform, s.region_id, s.credential, s.drift_policy, s.mode, s.safety_buffer,
       s.max_quantity, s.pod_quantity, make_interval(mins => s.interval_minutes), s.settings::jsonb, s.enabled
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[],
            $8::integer[], $9::integer[], $10::integer[], $11::text[], $12::boolean[])
     AS s (id, platform, region_id, credential, drift_policy, mode, safety_buffer, max_quantity,
           pod_quantity, interval_minutes, settings, enabled)
ON CONFLICT (id) DO UPDATE
SET platform = excluded.platform, region_id = excluded.region_id, credential = excluded.credential,
    drift_policy = excluded.drift_policy, mode = excluded.mode, safety_buffer = excluded.safety_buffer,
    max_quantity = excluded.max_quantity, pod_quantity = excluded.pod_quantity,
    full_pass_interval = excluded.full_pass_interval, settings = excluded.settings,
    enabled = excluded.enabled, updated_at = now()
WHERE (st.platform, st.region_id, st.credential, st.drift_policy, st.mode, st.safety_buffer,
       st.max_quantity, st.pod_quantity, st.full_pass_interval, st.settings, st.enabled)
      IS DISTINCT FROM
      (excluded.platform, excluded.region_id, excluded.credential, excluded.drift_policy, excluded.mode,
       excluded.safety_buffer, excluded.max_quantity, excluded.pod_quantity, excluded.full_pass_interval,
       excluded.settings, excluded.enabled)
RETURNING (xmax = 0) AS inserted

-- ensure_store_schedules --
-- A new store is due at once; an existing schedule (leases, back-off, last success) is never reset.
INSERT INTO store_schedule (store_id)
SELECT unnest($1::text[])
ON CONFLICT (store_id) DO NOTHING

-- load_store --
SELECT id, platform, region_id, credential, drift_policy, mode, safety_buffer, max_quantity, pod_quantity,
       extract(epoch FROM full_pass_interval)::integer AS full_pass_interval_s, settings::text AS settings,
       enabled
FROM stores
WHERE id = $1

-- list_stores --
SELECT id, platform, region_id, credential, drift_policy, mode, safety_buffer, max_quantity, pod_quantity,
       extract(epoch FROM full_pass_interval)::integer AS full_pass_interval_s, settings::text AS settings,
       enabled
FROM stores
WHERE enabled OR NOT $1::boolean
ORDER BY id

-- store_ids --
-- Every store, enabled or not, for pickers: a disabled store may still have drift to resolve.
SELECT id FROM stores ORDER BY id

-- point_store_at --
-- A local sandbox started for a store records where it listens (`sandbox serve --register-as`).
UPDATE stores SET settings = settings || jsonb_build_object('base_url', $2::text), updated_at = now()
WHERE id = $1
RETURNING id
