-- Business rules on the run window's facts (:window_start .. :run_date). The bounds are the
-- sale rules stated once in src/retail_pipeline/schemas/rules.py (SALE_RULES), which
-- WarehouseQueryDataset passes to every query as bind parameters of the same names:
--   total_amount        total_amount = quantity x unit_price within :total_tolerance (a cent).
--                       total_amount is the net merchandise amount: after discount, before tax
--                       and shipping (docs/contracts.md), so no tax/shipping term belongs here.
--   positive_quantity   quantity > 0
--   positive_price      unit_price > 0
--   no_future_date      the sale is not after now (transaction_ts) nor after today (date_id)
--   max_quantity        quantity <= :max_quantity
--   max_unit_price      unit_price <= :max_unit_price
--   total_amount_bounds 0 < total_amount <= :max_total_amount
--   extra_bounds        tax_amount, shipping_cost in 0 .. :max_extra_amount,
--                       discount_percentage in 0 .. :max_discount_percentage (when given)
--   money_scale         no money value with more than :money_scale decimals
-- One row per offending fact, at most :sample_size per (retailer, rule); `violations` is the
-- full count for that (retailer, rule). No row for a rule means no violation. Arithmetic is in
-- unconstrained numeric, so no value a column can hold makes the query fail.
WITH f AS (
    SELECT *
    FROM fact_sales
    WHERE date_id BETWEEN to_char(CAST(:window_start AS date), 'YYYYMMDD')::int
                      AND to_char(CAST(:run_date AS date), 'YYYYMMDD')::int
),
violations AS (
    SELECT f.retailer_id, v.rule, f.sale_id, f.transaction_id, f.date_id, f.quantity,
           f.unit_price, f.total_amount, round(f.quantity::numeric * f.unit_price, 2) AS expected_total,
           f.transaction_ts
    FROM f
    CROSS JOIN LATERAL (VALUES
        ('total_amount', abs(f.total_amount - f.quantity::numeric * f.unit_price)
                         > CAST(:total_tolerance AS numeric)),
        ('positive_quantity', f.quantity <= 0),
        ('positive_price', f.unit_price <= 0),
        ('no_future_date', f.transaction_ts > now()
                           OR f.date_id > to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')::int),
        ('max_quantity', f.quantity > CAST(:max_quantity AS numeric)),
        ('max_unit_price', f.unit_price > CAST(:max_unit_price AS numeric)),
        ('total_amount_bounds', f.total_amount <= 0 OR f.total_amount > CAST(:max_total_amount AS numeric)),
        ('extra_bounds', coalesce(f.tax_amount NOT BETWEEN 0 AND CAST(:max_extra_amount AS numeric), false)
                         OR coalesce(f.shipping_cost NOT BETWEEN 0 AND CAST(:max_extra_amount AS numeric), false)
                         OR coalesce(f.discount_percentage NOT BETWEEN 0
                                     AND CAST(:max_discount_percentage AS numeric), false)),
        ('money_scale', greatest(scale(f.unit_price), scale(f.total_amount), coalesce(scale(f.tax_amount), 0),
                                 coalesce(scale(f.shipping_cost), 0)) > CAST(:money_scale AS int))
    ) AS v(rule, violated)
    WHERE v.violated
),
numbered AS (
    SELECT violations.*,
           count(*) OVER (PARTITION BY retailer_id, rule) AS violations,
           row_number() OVER (PARTITION BY retailer_id, rule ORDER BY date_id, transaction_id, sale_id) AS rn
    FROM violations
)
SELECT r.retailer_code, n.rule, n.violations::bigint AS violations, n.sale_id, n.transaction_id,
       n.date_id, n.quantity, n.unit_price, n.total_amount, n.expected_total,
       to_char(n.transaction_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS transaction_ts
FROM numbered AS n
LEFT JOIN dim_retailer AS r ON r.retailer_id = n.retailer_id
WHERE n.rn <= CAST(:sample_size AS int)
ORDER BY r.retailer_code, n.rule, n.rn
