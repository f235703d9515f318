-- One retailer's facts already in fact_sales (days outside the window, and the window's old
-- partitions until the swap drops them) moved to the version now covering their day
-- (tmp_product_moves, product_moves.sql). {parent}: the retailer's sub-parent; %(lo)s, %(hi)s
-- the days the moves span, so the plan prunes to them. Returns how many of them lie outside
-- the window (the window's old partitions are dropped by the swap).
WITH moved AS (
    UPDATE {parent} f SET product_id = m.new_id
    FROM tmp_product_moves m
    WHERE f.date_id >= %(lo)s AND f.date_id < %(hi)s AND m.retailer_id = %(retailer_id)s
      AND f.product_id = m.old_id AND f.date_id >= m.lo AND f.date_id < m.hi
    RETURNING f.date_id
)
SELECT count(*) FILTER (WHERE date_id NOT BETWEEN %(window_lo)s AND %(window_hi)s) FROM moved
