UPDATE fact_sales_key k
SET date_id = m.date_id, product_id = m.product_id
FROM tmp_moved_in m
WHERE k.retailer_id = m.retailer_id AND k.transaction_id = m.transaction_id;

DROP TABLE tmp_moved_in
