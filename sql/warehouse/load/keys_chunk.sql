-- One chunk's keys, inserted while the load streams (warehouse.exactly_once.ChunkKeys), right
-- after the chunk's COPY: the rule of keys_insert.sql (lines on no window day now, key order,
-- a plain INSERT whose unique violation means a line moved in) over the rows this chunk appended
-- only. {selects}: per day table the chunk wrote to, SELECT retailer_id, transaction_id,
-- product_id, date_id FROM <day table> WHERE ctid > '<its last row keyed>'::tid (a TID Range
-- Scan: the day tables are created in the load's transaction and only appended to), UNION ALL.
-- Used only when the window's days hold none of the load's facts (keys_window_empty.sql), so
-- the NOT EXISTS reads no partition; run per chunk against a full window it would read the
-- window's facts once per chunk.
INSERT INTO fact_sales_key (retailer_id, transaction_id, product_id, date_id)
SELECT n.retailer_id, n.transaction_id, n.product_id, n.date_id
FROM ({selects}) n
WHERE NOT EXISTS (SELECT 1 FROM fact_sales o
                  WHERE o.date_id BETWEEN %(lo)s AND %(hi)s
                    AND o.retailer_id = ANY(%(retailer_ids)s)
                    AND o.retailer_id = n.retailer_id AND o.transaction_id = n.transaction_id)
ORDER BY n.retailer_id, n.transaction_id
