-- The window's product-days whose version is not the one their facts got at COPY time (a
-- change seen for the first time, a late row that moved a boundary, a rerun of an old day):
-- usually none.
CREATE TEMP TABLE tmp_product_repoint ON COMMIT DROP AS
SELECT a.product_id AS old_id, a.date_id, v.product_id AS new_id
FROM tmp_product_assigned a
JOIN tmp_product_versions v ON v.product_key = a.product_key AND a.date_id >= v.from_id AND a.date_id < v.to_id
WHERE v.product_id <> a.product_id;
ANALYZE tmp_product_repoint
