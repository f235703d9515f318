-- DuckDB, after differing.sql: per day, the rows the left side has that the right lacks, and back.
SELECT sale_date, sum(greatest(a - b, 0))::BIGINT AS a_not_b, sum(greatest(b - a, 0))::BIGINT AS b_not_a
FROM differing
GROUP BY sale_date
