-- A window day's new partition, built standalone (no index yet; under wal_level=minimal a table
-- created in the load's transaction skips WAL). CHECK constraints of fact_sales carry over.
DROP TABLE IF EXISTS {stage};
CREATE TABLE {stage} (LIKE fact_sales INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE {stage} ALTER COLUMN run_id SET DEFAULT {run_id}
