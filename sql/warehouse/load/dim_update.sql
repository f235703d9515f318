-- Type 1 attributes: update where changed, the latest observation wins.
UPDATE {dim} d SET {sets}, attributes_as_of = t.attributes_as_of, run_id = %(run_id)s, updated_at = now()
FROM {tmp} t
WHERE d.{key} = t.{key}
  AND ({d_attrs}) IS DISTINCT FROM ({t_attrs})
  AND (d.attributes_as_of IS NULL OR t.attributes_as_of >= d.attributes_as_of)
