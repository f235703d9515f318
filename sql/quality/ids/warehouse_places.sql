-- DuckDB: one retailer's warehouse rows per day and place ('fact' | 'warehouse_quarantine').
SELECT sale_date, place, count(*) FROM warehouse WHERE retailer_code = $1 GROUP BY ALL
