-- The window's keys did not add up to the load's lines (facts or keys edited by hand): keys on
-- window days without that line go, and every line of the load gets its key. Lines whose key
-- points elsewhere were handled before by keys_elsewhere.sql.
DELETE FROM fact_sales_key k
WHERE k.date_id BETWEEN %(lo)s AND %(hi)s AND k.retailer_id = ANY(%(retailer_ids)s)
  AND NOT EXISTS (SELECT 1 FROM tmp_new_lines n
                  WHERE n.retailer_id = k.retailer_id AND n.transaction_id = k.transaction_id
                    AND n.product_id = k.product_id AND n.date_id = k.date_id);

INSERT INTO fact_sales_key (retailer_id, transaction_id, product_id, date_id)
SELECT retailer_id, transaction_id, product_id, date_id FROM tmp_new_lines
ON CONFLICT (retailer_id, transaction_id) DO NOTHING
