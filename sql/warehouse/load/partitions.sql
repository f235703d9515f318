SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = ANY(%(parents)s::regclass[])  -- the load's retailers' sub-parents
