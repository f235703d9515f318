-- Volume: fact rows and money per retailer and business day, :history_start .. :run_date,
-- zero-filled for every retailer in dim_retailer (a retailer with no rows shows 0, not nothing).
-- Feeds the missing-retailer check (run date), the same-weekday anomaly and the report's chart.
WITH days AS (
    SELECT d::date AS sale_date
    FROM generate_series(CAST(:history_start AS date), CAST(:run_date AS date), interval '1 day') AS d
),
counts AS (
    SELECT f.retailer_id, f.date_id, count(*) AS row_count, sum(f.total_amount) AS total_amount
    FROM fact_sales AS f
    WHERE f.date_id BETWEEN to_char(CAST(:history_start AS date), 'YYYYMMDD')::int
                        AND to_char(CAST(:run_date AS date), 'YYYYMMDD')::int
    GROUP BY f.retailer_id, f.date_id
)
SELECT r.retailer_code,
       days.sale_date,
       coalesce(c.row_count, 0)::bigint           AS row_count,
       coalesce(c.total_amount, 0)                AS total_amount   -- unconstrained numeric: no overflow
FROM dim_retailer AS r
CROSS JOIN days
LEFT JOIN counts AS c
       ON c.retailer_id = r.retailer_id
      AND c.date_id = to_char(days.sale_date, 'YYYYMMDD')::int
ORDER BY r.retailer_code, days.sale_date
