-- Versions the touched products no longer have (their facts were re-pointed first).
DELETE FROM dim_product d
USING tmp_product_old o
WHERE d.product_id = o.product_id
  AND NOT EXISTS (SELECT 1 FROM tmp_product_versions v WHERE v.product_id = o.product_id)
