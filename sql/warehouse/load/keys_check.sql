-- After the key maintenance the window's keys are exactly the load's lines: same count and same
-- order-independent checksum (two aggregates, no join). False: keys_repair.sql, then again.
SELECT k.n = l.n AND k.checksum IS NOT DISTINCT FROM l.checksum
FROM (SELECT count(*) AS n, sum(hashtextextended(transaction_id, (product_id # date_id) + retailer_id)) AS checksum
      FROM fact_sales_key WHERE date_id BETWEEN %(lo)s AND %(hi)s AND retailer_id = ANY(%(retailer_ids)s)) k,
     (SELECT count(*) AS n, sum(hashtextextended(transaction_id, (product_id # date_id) + retailer_id)) AS checksum
      FROM tmp_new_lines) l
