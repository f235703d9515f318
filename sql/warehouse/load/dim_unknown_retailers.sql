-- Members naming a retailer that is neither in dim_retailer nor one this load upserts.
SELECT DISTINCT retailer_id FROM {tmp}
WHERE retailer_id <> ALL(%(loading)s) AND retailer_id NOT IN (SELECT retailer_id FROM dim_retailer)
