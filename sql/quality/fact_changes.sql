-- Facts that the latest loads removed: rows of fact_sales_changes (sql/warehouse/006_exactly_once.sql)
-- recorded by the load that last wrote each window day (:window_start .. :run_date) of a
-- retailer, per load_audit. 'disappeared': the source no longer serves the line; 'moved': the
-- source now has it on another day (to_date). Reading by run, not by from_date, also finds lines
-- that moved into the window from an older day, and reports each change once: a later run's
-- window no longer names the run that recorded it.
-- One row per (retailer, change kind, from_date): count, quantity and money (unconstrained
-- numeric), the runs, and a sample of at most :sample_size lines per (retailer, kind) as JSON.
WITH latest AS (
    SELECT DISTINCT ON (retailer_code, sale_date) retailer_code, sale_date, run_id
    FROM load_audit
    WHERE sale_date BETWEEN CAST(:window_start AS date) AND CAST(:run_date AS date)
    ORDER BY retailer_code, sale_date, loaded_at DESC, run_id DESC
),
runs AS (
    SELECT DISTINCT retailer_code, run_id FROM latest
),
changes AS (
    SELECT c.*,
           row_number() OVER (PARTITION BY c.retailer_code, c.change_kind
                              ORDER BY c.from_date, c.transaction_id, c.product_id) AS rn
    FROM fact_sales_changes AS c
    JOIN runs USING (retailer_code, run_id)
)
SELECT retailer_code, change_kind, from_date,
       count(*)::bigint AS changes,
       coalesce(sum(quantity::numeric), 0) AS quantity,
       coalesce(sum(total_amount), 0) AS total_amount,
       string_agg(DISTINCT run_id, ',') AS run_ids,
       string_agg(DISTINCT to_date::text, ',') AS to_dates,
       to_char(max(changed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_changed_at,
       coalesce(jsonb_agg(jsonb_build_object(
                    'transaction_id', transaction_id, 'product_id', product_id,
                    'from_date', from_date, 'to_date', to_date, 'quantity', quantity,
                    'total_amount', total_amount::text, 'run_id', run_id)
                ORDER BY transaction_id, product_id) FILTER (WHERE rn <= CAST(:sample_size AS int)),
                '[]'::jsonb)::text AS sample
FROM changes
GROUP BY retailer_code, change_kind, from_date
ORDER BY retailer_code, change_kind, from_date
