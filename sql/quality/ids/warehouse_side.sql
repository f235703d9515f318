-- DuckDB: one retailer's warehouse ids as the right side of the comparison (differing.sql).
CREATE OR REPLACE TEMP TABLE right_side AS
SELECT sale_date, transaction_id FROM warehouse WHERE retailer_code = $1
