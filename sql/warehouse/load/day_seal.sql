-- After the COPY: no default run_id any more, and the partition bounds as a CHECK, so ATTACH
-- does not scan the table to prove them.
ALTER TABLE {stage} ALTER COLUMN run_id DROP DEFAULT;
ALTER TABLE {stage} ADD CONSTRAINT {bounds} CHECK (date_id >= {lo} AND date_id < {hi})
