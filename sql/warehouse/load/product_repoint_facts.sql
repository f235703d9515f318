-- One retailer's facts already in fact_sales (days outside the window, and the window's old
-- partitions until the swap drops them) moved to the version now covering their day
-- (tmp_product_moves, product_moves.sql). {parent}: the retailer's sub-parent; %(lo)s, %(hi)s
-- the days the moves span, so the plan prunes to them. The ledger follows for days outside the
-- window (the window's lines are the new day tables', already in fact_sales_key).
CREATE TEMP TABLE IF NOT EXISTS tmp_product_moved (retailer_id smallint, transaction_id text, product_id bigint,
                                                   date_id integer) ON COMMIT DROP;
TRUNCATE tmp_product_moved;
WITH moved AS (
    UPDATE {parent} f SET product_id = m.new_id
    FROM tmp_product_moves m
    WHERE f.date_id >= %(lo)s AND f.date_id < %(hi)s AND m.retailer_id = %(retailer_id)s
      AND f.product_id = m.old_id AND f.date_id >= m.lo AND f.date_id < m.hi
    RETURNING f.retailer_id, f.transaction_id, f.product_id, f.date_id
)
INSERT INTO tmp_product_moved SELECT * FROM moved;
ANALYZE tmp_product_moved;

UPDATE fact_sales_key k SET product_id = m.product_id
FROM tmp_product_moved m
WHERE k.retailer_id = m.retailer_id AND k.transaction_id = m.transaction_id AND k.date_id = m.date_id
  AND m.date_id NOT BETWEEN %(window_lo)s AND %(window_hi)s;

SELECT count(*) FILTER (WHERE date_id NOT BETWEEN %(window_lo)s AND %(window_hi)s) FROM tmp_product_moved
