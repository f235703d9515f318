-- A line moved into the window from a day outside it: its old copy leaves that day's partition
-- (date_id a literal, so only that partition is touched), recorded as 'moved'.
WITH gone AS (
    DELETE FROM fact_sales f
    USING tmp_moved_in m
    WHERE f.date_id = %(from_date_id)s AND m.from_date_id = %(from_date_id)s
      AND f.retailer_id = ANY(%(retailer_ids)s)  -- the load's retailers' partitions only
      AND f.retailer_id = m.retailer_id AND f.transaction_id = m.transaction_id
    RETURNING f.retailer_id, f.transaction_id, f.product_id, f.quantity, f.total_amount, m.date_id AS to_date_id
)
INSERT INTO fact_sales_changes (run_id, retailer_code, transaction_id, product_id, change_kind,
    from_date, to_date, quantity, total_amount)
SELECT %(run_id)s, r.retailer_code, g.transaction_id, g.product_id, 'moved',
       to_date(%(from_date_id)s::text, 'YYYYMMDD'), to_date(g.to_date_id::text, 'YYYYMMDD'),
       g.quantity, g.total_amount
FROM gone g JOIN dim_retailer r USING (retailer_id)
