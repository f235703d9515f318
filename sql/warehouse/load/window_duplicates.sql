-- Lines of the load on two of its days (staging keeps one version of a transaction, so none).
-- Run only when two of the load's days have overlapping id ranges; a day table's primary key
-- (date_id, sale_id: sale_id hashes the transaction) already holds a transaction once per day.
SELECT coalesce(r.retailer_code, 'retailer_id=' || d.retailer_id), d.transaction_id, d.date_ids
FROM (SELECT retailer_id, transaction_id, array_agg(date_id ORDER BY date_id) AS date_ids
      FROM tmp_new_lines GROUP BY retailer_id, transaction_id HAVING count(*) > 1) d
LEFT JOIN dim_retailer r USING (retailer_id)  -- a retailer's first load has no row yet
ORDER BY 1, 2
LIMIT 5
