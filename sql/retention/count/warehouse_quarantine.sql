-- What retention would remove from warehouse_quarantine: rows per day before the cutoff (delete/warehouse_quarantine.sql removes them).
SELECT sale_date AS day, count(*) AS rows
FROM warehouse_quarantine
WHERE retailer_code = %(retailer_code)s AND sale_date < %(cutoff)s
GROUP BY 1 ORDER BY 1
