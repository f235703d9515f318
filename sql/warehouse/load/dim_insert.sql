-- New members only (set-based anti-join), in key order for the primary-key index.
INSERT INTO {dim} ({columns}, run_id)
SELECT {t_columns}, %(run_id)s FROM {tmp} t
WHERE NOT EXISTS (SELECT 1 FROM {dim} d WHERE d.{key} = t.{key})
ORDER BY t.{key}
ON CONFLICT ({key}) DO NOTHING
