-- bi_reader: SELECT and nothing else, on what exists and on what the loader creates later
-- (new day partitions, the quality tables).
-- (PostgreSQL 15+ already refuses CREATE on schema public to PUBLIC.)
GRANT USAGE ON SCHEMA public TO bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO bi_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO bi_reader;
