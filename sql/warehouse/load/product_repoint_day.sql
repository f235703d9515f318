-- One new day table's facts re-pointed to their product-day's version (tmp_product_repoint);
-- the lines moved are kept for the ledger (product_repoint_keys.sql).
WITH moved AS (
    UPDATE {stage} f SET product_id = r.new_id
    FROM tmp_product_repoint r
    WHERE f.product_id = r.old_id AND f.date_id = r.date_id
    RETURNING f.retailer_id, f.transaction_id, f.product_id, f.date_id
)
INSERT INTO tmp_product_day_moved SELECT * FROM moved
