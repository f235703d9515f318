-- A dimension's members staged chunk by chunk hold a key once per chunk it appeared in: keep
-- one row per key, the latest attributes first ({latest}: attributes_as_of DESC for a
-- dimension with type 1 attributes), as one frame would.
CREATE TEMP TABLE {dedup} ON COMMIT DROP AS
SELECT DISTINCT ON ({key}) * FROM {tmp} ORDER BY {key}{latest};
DROP TABLE {tmp};
ALTER TABLE {dedup} RENAME TO {tmp}
