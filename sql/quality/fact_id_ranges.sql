-- fact_sales_id_range covers the facts of every run-window day (:window_start .. :run_date).
-- Why: a load looks for its lines already on another day only on the days whose id range
-- (sql/warehouse/016_fact_sales_id_ranges.sql) overlaps its own ids of the retailer. A range
-- narrower than its day's facts would hide that day from the guard, and a line of it sent again
-- on another day would be loaded a second time, unseen. So, per retailer-day of the window that
-- holds facts:
--   missing_range     no fact_sales_id_range row for the day
--   range_too_narrow  the day's lowest or highest transaction id lies outside the row's range
-- A wider range is fine (a line moved out keeps it: the day is only read once more), and so is
-- a range row of a window day without facts. Ids compare byte by byte (COLLATE "C"), as the
-- loader compares them.
-- One row per problem day, at most :sample_size per (retailer, problem); `problems` is the full
-- count of days for that (retailer, problem).
WITH bounds AS (
    SELECT to_char(CAST(:window_start AS date), 'YYYYMMDD')::int AS lo,
           to_char(CAST(:run_date AS date), 'YYYYMMDD')::int AS hi
),
days AS (
    SELECT f.retailer_id, f.date_id, count(*) AS facts,
           min(f.transaction_id COLLATE "C") AS min_transaction_id,
           max(f.transaction_id COLLATE "C") AS max_transaction_id
    FROM fact_sales AS f
    CROSS JOIN bounds AS b
    WHERE f.date_id BETWEEN b.lo AND b.hi
    GROUP BY f.retailer_id, f.date_id
),
problems AS (
    SELECT CASE WHEN r.date_id IS NULL THEN 'missing_range' ELSE 'range_too_narrow' END AS problem,
           d.retailer_id, d.date_id, d.facts, d.min_transaction_id, d.max_transaction_id,
           r.first_transaction_id, r.last_transaction_id
    FROM days AS d
    LEFT JOIN fact_sales_id_range AS r ON r.retailer_id = d.retailer_id AND r.date_id = d.date_id
    WHERE r.date_id IS NULL
       OR d.min_transaction_id COLLATE "C" < r.first_transaction_id COLLATE "C"
       OR d.max_transaction_id COLLATE "C" > r.last_transaction_id COLLATE "C"
),
numbered AS (
    SELECT problems.*,
           count(*) OVER (PARTITION BY retailer_id, problem) AS problems,
           row_number() OVER (PARTITION BY retailer_id, problem ORDER BY date_id) AS rn
    FROM problems
)
SELECT coalesce(r.retailer_code, 'retailer_id=' || n.retailer_id::text) AS retailer_code,
       n.problem, n.problems::bigint AS problems, n.date_id, n.facts::bigint AS facts,
       n.min_transaction_id::text AS min_transaction_id, n.max_transaction_id::text AS max_transaction_id,
       n.first_transaction_id::text AS first_transaction_id, n.last_transaction_id::text AS last_transaction_id
FROM numbered AS n
LEFT JOIN dim_retailer AS r ON r.retailer_id = n.retailer_id
WHERE n.rn <= CAST(:sample_size AS int)
ORDER BY 1, n.problem, n.rn
