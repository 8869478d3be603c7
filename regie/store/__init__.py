"""The violation store: SQLite by default, PostgreSQL for several replicas."""
