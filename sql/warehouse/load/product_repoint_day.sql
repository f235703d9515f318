-- One new day table's facts re-pointed to their product-day's version (tmp_product_repoint),
-- and their lines in fact_sales_key with them (the ledger holds the facts' product_id).
WITH moved AS (
    UPDATE {stage} f SET product_id = r.new_id
    FROM tmp_product_repoint r
    WHERE f.product_id = r.old_id AND f.date_id = r.date_id
    RETURNING f.retailer_id, f.transaction_id, f.product_id, f.date_id
)
UPDATE fact_sales_key k SET product_id = m.product_id
FROM moved m
WHERE k.retailer_id = m.retailer_id AND k.transaction_id = m.transaction_id AND k.date_id = m.date_id
