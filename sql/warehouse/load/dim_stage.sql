-- A temp table shaped like the dimension, for the COPY of this load's members.
CREATE TEMP TABLE {tmp} (LIKE {dim} INCLUDING DEFAULTS) ON COMMIT DROP
