-- Keys of the lines new to the window (not on any window day now), straight from the day tables.
-- The last line is empty on the fast path: a plain INSERT (ON CONFLICT would cost twice as
-- much), where a unique violation means some line already lives on a day outside the window,
-- and the loader takes the slow path (keys_elsewhere.sql, move_in.sql, keys_moved_in.sql, then
-- this insert again with ON CONFLICT DO NOTHING, once the moves into the window were handled).
INSERT INTO fact_sales_key (retailer_id, transaction_id, product_id, date_id)
SELECT n.retailer_id, n.transaction_id, n.product_id, n.date_id
FROM tmp_new_lines n
WHERE NOT EXISTS (SELECT 1 FROM fact_sales o
                  WHERE o.date_id BETWEEN %(lo)s AND %(hi)s
                    AND o.retailer_id = ANY(%(retailer_ids)s)  -- the load's retailers' partitions only
                    AND o.retailer_id = n.retailer_id AND o.transaction_id = n.transaction_id)
ORDER BY n.retailer_id, n.transaction_id  -- key order: the index is appended to, not scattered
{on_conflict}
