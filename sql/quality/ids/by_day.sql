-- DuckDB, over the two sides' ids (views `left_side`, `right_side`: sale_date,
-- transaction_id): rows and the id checksum per side and day. The checksum is the sum of the
-- first 60 bits of md5(id) as an integer (exact: the sum is a HUGEINT), the number PostgreSQL
-- gives for sum(('x' || left(md5(transaction_id), 15))::bit(60)::bigint). A missing id counts as ''.
SELECT 'left' AS side, sale_date, count(*) AS n_rows,
       sum(('0x' || left(md5(coalesce(transaction_id, '')), 15))::UBIGINT)::VARCHAR AS checksum
FROM left_side
GROUP BY sale_date
UNION ALL
SELECT 'right', sale_date, count(*),
       sum(('0x' || left(md5(coalesce(transaction_id, '')), 15))::UBIGINT)::VARCHAR
FROM right_side
GROUP BY sale_date
