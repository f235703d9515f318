-- DuckDB, after differing.sql: the first differing ids, those the left side has more of first
-- (rows lost matter most), then by day and id.
SELECT sale_date, transaction_id, a, b
FROM differing
ORDER BY a > b DESC, sale_date, transaction_id
LIMIT $sample_size
