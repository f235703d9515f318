-- Sales per retailer and business day, from the star schema.
SELECT d.date                    AS sale_date,
       r.retailer_code,
       count(*)                  AS transactions,
       sum(f.quantity)           AS units_sold,
       sum(f.total_amount)       AS revenue
FROM fact_sales f
JOIN dim_date d     ON d.date_id = f.date_id
JOIN dim_retailer r ON r.retailer_id = f.retailer_id
GROUP BY d.date, r.retailer_code
ORDER BY d.date, r.retailer_code;
