-- Each window day's latest load against the previous load of the same day: load_audit keeps one
-- row per (run, retailer, day), so a day reloaded by the look-back has its history there. Feeds
-- the volume-drop check (a day whose facts shrank sharply from one load to the next).
-- One row per retailer and window day (:window_start .. :run_date) that was ever loaded; the
-- previous_* columns are NULL for a day loaded only once.
WITH ranked AS (
    SELECT retailer_code, sale_date, run_id, rows_loaded, rows_quarantined, total_amount_loaded, loaded_at,
           row_number() OVER (PARTITION BY retailer_code, sale_date ORDER BY loaded_at DESC, run_id DESC) AS rn
    FROM load_audit
    WHERE sale_date BETWEEN CAST(:window_start AS date) AND CAST(:run_date AS date)
)
SELECT l.retailer_code, l.sale_date,
       l.run_id, l.rows_loaded::bigint AS rows_loaded, l.rows_quarantined::bigint AS rows_quarantined,
       to_char(l.loaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS loaded_at,
       p.run_id AS previous_run_id, p.rows_loaded::bigint AS previous_rows_loaded,
       to_char(p.loaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS previous_loaded_at
FROM ranked AS l
LEFT JOIN ranked AS p
       ON p.retailer_code = l.retailer_code AND p.sale_date = l.sale_date AND p.rn = 2
WHERE l.rn = 1
ORDER BY l.retailer_code, l.sale_date
