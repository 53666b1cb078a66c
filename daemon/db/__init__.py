"""Database access: the only package that runs SQL. Query text comes from the top-level sql/ folder."""
