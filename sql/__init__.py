"""SQL lives here as files: numbered migrations in migrations/, named queries in queries/*.sql."""
