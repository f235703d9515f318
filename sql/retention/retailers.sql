-- Every retailer the warehouse knows (dim_retailer), plus codes that only the text-keyed tables
-- name, each with its retailer_id when it has one.
SELECT retailer_code, retailer_id FROM dim_retailer
UNION
SELECT code, NULL::smallint
FROM (SELECT retailer_code AS code FROM load_audit WHERE sale_date < %(cutoff)s
      UNION SELECT retailer_code FROM warehouse_quarantine WHERE sale_date < %(cutoff)s
      UNION SELECT retailer_code FROM fact_sales_changes WHERE from_date < %(cutoff)s) AS t
WHERE code NOT IN (SELECT retailer_code FROM dim_retailer)
ORDER BY 1
