-- DuckDB: one retailer's warehouse ids (the variable `code`) as the right side of the comparison
-- (differing.sql): a view, not a copy of a big day's rows.
CREATE OR REPLACE TEMP VIEW right_side AS
SELECT sale_date, transaction_id FROM warehouse WHERE retailer_code = getvariable('code')
