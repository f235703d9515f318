-- Retailers from the registry (conf/base/retailers.yml, params:retailers): upsert, touching a row only when it changed.
INSERT INTO dim_retailer AS d (retailer_id, retailer_code, retailer_name) VALUES (%s, %s, %s)
ON CONFLICT (retailer_id) DO UPDATE SET retailer_code = EXCLUDED.retailer_code,
    retailer_name = EXCLUDED.retailer_name, updated_at = now()
WHERE (d.retailer_code, d.retailer_name) IS DISTINCT FROM (EXCLUDED.retailer_code, EXCLUDED.retailer_name)
