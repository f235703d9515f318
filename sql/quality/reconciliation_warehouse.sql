-- Reconciliation, warehouse side: per retailer and business day of the run window
-- (:window_start .. :run_date), the fact rows and money, and the rows the warehouse load
-- quarantined (warehouse_quarantine) with their money when the record carries a parsable
-- total_amount, and the latest load_audit row of the day. The quality pipeline compares these
-- with the ingestion manifests. Sums are unconstrained numeric: they cannot overflow.
WITH days AS (
    SELECT d::date AS sale_date
    FROM generate_series(CAST(:window_start AS date), CAST(:run_date AS date), interval '1 day') AS d
),
facts AS (
    SELECT r.retailer_code, to_date(f.date_id::text, 'YYYYMMDD') AS sale_date,
           count(*) AS fact_rows, sum(f.total_amount) AS fact_amount
    FROM fact_sales AS f
    JOIN dim_retailer AS r ON r.retailer_id = f.retailer_id
    WHERE f.date_id BETWEEN to_char(CAST(:window_start AS date), 'YYYYMMDD')::int
                        AND to_char(CAST(:run_date AS date), 'YYYYMMDD')::int
    GROUP BY 1, 2
),
latest_load AS (
    SELECT DISTINCT ON (retailer_code, sale_date) retailer_code, sale_date, run_id, loaded_at,
           rows_loaded, total_amount_loaded, rows_quarantined
    FROM load_audit
    WHERE sale_date BETWEEN CAST(:window_start AS date) AND CAST(:run_date AS date)
    ORDER BY retailer_code, sale_date, loaded_at DESC
),
wq AS (
    -- A rerun of a day replaces that day's quarantine rows (as it replaces its facts), so
    -- every row here belongs to the day's current load.
    -- The record's amount is summed only when it is a plain decimal of sane length, so no
    -- record can make the cast or the (unconstrained numeric) sum fail.
    SELECT q.retailer_code, q.sale_date, count(*) AS wq_rows,
           sum(CASE WHEN q.record ->> 'total_amount' ~ '^\s*-?[0-9]{1,30}(\.[0-9]{1,30})?\s*$'
                    THEN (q.record ->> 'total_amount')::numeric END) AS wq_amount,
           count(*) FILTER (WHERE NOT coalesce(q.record ->> 'total_amount' ~ '^\s*-?[0-9]{1,30}(\.[0-9]{1,30})?\s*$', false))
               AS wq_rows_without_amount
    FROM warehouse_quarantine AS q
    WHERE q.sale_date BETWEEN CAST(:window_start AS date) AND CAST(:run_date AS date)
    GROUP BY 1, 2
),
keys AS (
    SELECT retailer_code, sale_date FROM facts
    UNION SELECT retailer_code, sale_date FROM wq
    UNION SELECT retailer_code, sale_date FROM latest_load
    UNION SELECT r.retailer_code, days.sale_date FROM dim_retailer AS r CROSS JOIN days
)
SELECT k.retailer_code, k.sale_date,
       coalesce(f.fact_rows, 0)::bigint                 AS fact_rows,
       coalesce(f.fact_amount, 0)                      AS fact_amount,
       coalesce(wq.wq_rows, 0)::bigint                  AS wq_rows,
       coalesce(wq.wq_amount, 0)                        AS wq_amount,
       coalesce(wq.wq_rows_without_amount, 0)::bigint   AS wq_rows_without_amount,
       l.run_id                                         AS load_run_id,
       l.rows_loaded                                    AS audit_rows_loaded,
       l.total_amount_loaded                            AS audit_total_amount_loaded
FROM keys AS k
LEFT JOIN facts AS f ON f.retailer_code = k.retailer_code AND f.sale_date = k.sale_date
LEFT JOIN wq ON wq.retailer_code = k.retailer_code AND wq.sale_date = k.sale_date
LEFT JOIN latest_load AS l ON l.retailer_code = k.retailer_code AND l.sale_date = k.sale_date
ORDER BY k.retailer_code, k.sale_date
