-- Freshness on load time: when the warehouse last received each retailer's data
-- (max(load_audit.loaded_at)), whatever business dates that load covered, so a backfill of an
-- old month is fresh. Retailers in dim_retailer that were never loaded come back with NULLs.
WITH retailers AS (
    SELECT retailer_code FROM dim_retailer
    UNION
    SELECT DISTINCT retailer_code FROM load_audit
)
SELECT r.retailer_code,
       to_char(max(a.loaded_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_loaded_at,
       (extract(epoch FROM now() - max(a.loaded_at)) / 3600.0)::double precision AS age_hours,
       max(a.sale_date) FILTER (WHERE a.loaded_at = (SELECT max(loaded_at) FROM load_audit AS x
                                                     WHERE x.retailer_code = r.retailer_code)) AS last_sale_date_loaded
FROM retailers AS r
LEFT JOIN load_audit AS a ON a.retailer_code = r.retailer_code
GROUP BY r.retailer_code
ORDER BY r.retailer_code
