SELECT DISTINCT retailer_id FROM {tmp} WHERE retailer_id NOT IN (SELECT retailer_id FROM dim_retailer)
