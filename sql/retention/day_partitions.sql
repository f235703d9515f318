-- The retailer's day partitions (children of fact_sales_r<id>) that lie entirely before the
-- cutoff: their upper bound (exclusive) is at most the cutoff's date_id.
SELECT c.relname::text AS partition, b.bounds[1]::int AS date_id
FROM pg_inherits AS i
JOIN pg_class AS c ON c.oid = i.inhrelid
CROSS JOIN LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                        'FROM \((\d+)\) TO \((\d+)\)') AS bounds) AS b
WHERE i.inhparent = to_regclass('fact_sales_r' || %(retailer_id)s::text) AND c.relkind = 'r'
  AND b.bounds[2]::int <= %(cutoff_id)s
ORDER BY 2
