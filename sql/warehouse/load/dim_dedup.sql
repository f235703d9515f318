-- A dimension's members staged chunk by chunk hold a key once per chunk it appeared in: keep
-- one row per key ({key}: the staged rows' grain; a product and day for products), the latest
-- sale's attributes first ({latest}: observed_at DESC for products), as one frame would.
CREATE TEMP TABLE {dedup} ON COMMIT DROP AS
SELECT DISTINCT ON ({key}) * FROM {tmp} ORDER BY {key}{latest};
DROP TABLE {tmp};
ALTER TABLE {dedup} RENAME TO {tmp}
