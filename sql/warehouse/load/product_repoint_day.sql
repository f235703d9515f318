-- One new day table's facts re-pointed to their product-day's version (tmp_product_repoint).
UPDATE {stage} f SET product_id = r.new_id
FROM tmp_product_repoint r
WHERE f.product_id = r.old_id AND f.date_id = r.date_id
