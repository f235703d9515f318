-- After the COPY: no default run_id any more, and the partition's whole constraint as a CHECK
-- (its day, and its retailer: the bound of the sub-parent it is attached under), so ATTACH
-- proves it from the catalog instead of reading the table (015_fact_sales_implied_keys.sql).
ALTER TABLE {stage} ALTER COLUMN run_id DROP DEFAULT;
ALTER TABLE {stage} ADD CONSTRAINT {bounds} CHECK (date_id >= {lo} AND date_id < {hi} AND retailer_id = {rid})
