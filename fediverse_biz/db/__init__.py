"""Storage: PostgreSQL through asyncpg, embedded by default."""
