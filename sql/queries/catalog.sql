-- Catalog: facilities, selling regions, variants, facility stock and synced variants (imports).
-- Upserts are set-based (unnest of column arrays) and touch a row only when a value really changes,
-- so re-importing a file is a no-op. RETURNING (xmax = 0) tells an insert from an update.

-- existing_facilities --
SELECT id FROM facilities WHERE id = ANY ($1::text[])

-- existing_regions --
SELECT id FROM regions WHERE id = ANY ($1::text[])

-- existing_variant_kinds --
SELECT id, kind FROM variants WHERE id = ANY ($1::text[])

-- upsert_facilities --
INSERT INTO facilities AS f (id, country, name)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT (id) DO UPDATE
SET country = excluded.country, name = excluded.name
WHERE (f.country, f.name) IS DISTINCT FROM (excluded.country, excluded.name)
RETURNING (xmax = 0) AS inserted

-- insert_regions --
INSERT INTO regions (id)
SELECT DISTINCT unnest($1::text[])
ON CONFLICT (id) DO NOTHING

-- link_region_facilities --
-- Links only add: a facility left out of the file stays linked (removing one is a deliberate act).
INSERT INTO region_facilities (region_id, facility_id)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT (region_id, facility_id) DO NOTHING
RETURNING true AS inserted

-- upsert_variants --
INSERT INTO variants AS v (id, sku, kind)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT (id) DO UPDATE
SET sku = excluded.sku, kind = excluded.kind
WHERE (v.sku, v.kind) IS DISTINCT FROM (excluded.sku, excluded.kind)
RETURNING (xmax = 0) AS inserted

-- upsert_facility_stock --
-- The source timestamp moves only when the stock itself changes, or when it lies more than the clock
-- skew $5 in the future (frozen by a future-dated event from before those were refused): an import
-- is the truth as of now, whatever the stored timestamps say.
INSERT INTO facility_stock AS fs (variant_id, facility_id, status, quantity, source_updated_at, updated_at)
SELECT s.variant_id, s.facility_id, s.status, s.quantity, now(), now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[]) AS s (variant_id, facility_id, status, quantity)
ON CONFLICT (variant_id, facility_id) DO UPDATE
SET status = excluded.status, quantity = excluded.quantity, source_updated_at = now(), updated_at = now()
WHERE (fs.status, fs.quantity) IS DISTINCT FROM (excluded.status, excluded.quantity)
   OR fs.source_updated_at > now() + $5::interval
RETURNING (xmax = 0) AS inserted

-- upsert_synced_variants --
INSERT INTO synced_variants AS sv (store_id, external_id, variant_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT (store_id, external_id) DO UPDATE
SET variant_id = excluded.variant_id
WHERE sv.variant_id IS DISTINCT FROM excluded.variant_id
RETURNING (xmax = 0) AS inserted
