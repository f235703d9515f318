-- The product versions of the load's retailers as they stand when the load starts, for the COPY:
-- each fact gets the version covering its day (date ids; 0 for an open start). Only products with
-- more than one version: a product's first version has product_id = product_key (012), so the
-- facts of a product with one version already carry its key. What is read grows with the products
-- that changed, not with the catalogue.
SELECT product_key,
       CASE WHEN valid_from = '-infinity' THEN 0 ELSE to_char(valid_from, 'YYYYMMDD')::int END AS from_id,
       to_char(valid_to, 'YYYYMMDD')::int AS to_id,
       product_id
FROM dim_product
WHERE retailer_id = ANY(%(retailer_ids)s)
  AND product_key IN (SELECT product_key FROM dim_product
                      WHERE retailer_id = ANY(%(retailer_ids)s) AND product_id <> product_key)
ORDER BY product_key, valid_from
