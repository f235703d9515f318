-- True when the window's days hold no fact of the load's retailers (their first load: a new day,
-- a backfill, the big-day benchmark): keys are then written chunk by chunk while the load
-- streams (keys_chunk.sql). Stops at the first row found.
SELECT NOT EXISTS (SELECT 1 FROM fact_sales
                   WHERE date_id BETWEEN %(lo)s AND %(hi)s AND retailer_id = ANY(%(retailer_ids)s))
