-- A computed key that already names another natural key is a hash collision: the loader refuses.
SELECT t.{key}, {t_natural}, {d_natural}
FROM {tmp} t JOIN {dim} d USING ({key})
WHERE ({t_natural}) IS DISTINCT FROM ({d_natural})
LIMIT 3
