-- The facts a day partition holds.
SELECT count(*) FROM {partition}
