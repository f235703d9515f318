-- The days outside the window that may hold one of the load's lines: the load's retailers'
-- days whose id range overlaps the range of one of the load's days. None when ids carry the
-- sale's date or a sequence; the K days before the window when ids are dated when the row was
-- recorded and rows come up to K days late; every day of the retailer for random ids.
SELECT DISTINCT r.date_id
FROM fact_sales_id_range r
JOIN tmp_new_ranges n ON n.retailer_id = r.retailer_id
WHERE r.retailer_id = ANY(%(retailer_ids)s)
  AND r.date_id NOT BETWEEN %(lo)s AND %(hi)s
  AND r.first_transaction_id <= n.last_transaction_id
  AND n.first_transaction_id <= r.last_transaction_id
ORDER BY 1
