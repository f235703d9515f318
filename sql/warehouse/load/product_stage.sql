-- A temp table shaped like product_observations, for the COPY of this load's product-days.
CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE product_observations INCLUDING DEFAULTS) ON COMMIT DROP
