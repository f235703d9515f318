-- The last day each retailer's loads covered (a load writes one load_audit row per window day,
-- so this is the run date of its latest run): the look-back rule starts after it.
SELECT retailer_code, max(sale_date) FROM load_audit GROUP BY retailer_code
