-- Bookkeeping of applied migrations (the migration files themselves are in sql/migrations/).

-- create_migrations_table --
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- lock_migrations --
SELECT pg_advisory_lock(hashtext('stocksync.migrate'))

-- unlock_migrations --
SELECT pg_advisory_unlock(hashtext('stocksync.migrate'))

-- applied_migrations --
SELECT version, name, checksum FROM schema_migrations ORDER BY version

-- applied_migrations_if_any --
SELECT version, name, checksum FROM schema_migrations
WHERE to_regclass('schema_migrations') IS NOT NULL
ORDER BY version

-- migrations_table_exists --
SELECT to_regclass('schema_migrations') IS NOT NULL

-- record_migration --
INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)
