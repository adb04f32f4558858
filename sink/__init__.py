"""The PostgreSQL sink: both projection topics upserted into `agent_state` and
`task_lifecycle`, keeping the highest revision per key (docs/consumers.md).

Pure parts: `rows` (document -> row), `batch` (records -> one row per key),
`migrations` (the versioned schema). Shells: `store` (psycopg), `consumer` (aiokafka),
`web` (health and metrics), `main` (wiring).
"""
