-- DuckDB: one chunk (registered frame `chunk`) of the warehouse ids; the day as YYYY-MM-DD
-- whether it came as text or as a date.
INSERT INTO warehouse
SELECT retailer_code, left(CAST(sale_date AS VARCHAR), 10), transaction_id, place FROM chunk
