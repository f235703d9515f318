-- Per retailer and window day that loses lines: facts held now, and how many of them the source
-- no longer serves on any window day (not moved, not quarantined). The loss guard compares them.
WITH lost AS (
    SELECT d.retailer_id, d.old_date_id AS date_id, count(*) AS lost
    FROM tmp_window_diff d
    JOIN dim_retailer r USING (retailer_id)
    WHERE d.new_date_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM tmp_quarantine q
                      WHERE q.retailer_code = r.retailer_code AND q.transaction_id = d.transaction_id)
    GROUP BY 1, 2
)
SELECT r.retailer_code, to_date(l.date_id::text, 'YYYYMMDD') AS day,
       (SELECT count(*) FROM fact_sales f WHERE f.date_id = l.date_id AND f.retailer_id = l.retailer_id
          AND f.retailer_id = ANY(%(retailer_ids)s)) AS held,
       l.lost
FROM lost l JOIN dim_retailer r USING (retailer_id)
ORDER BY 1, 2
