-- Which warehouse this is: the id made when it was created (sql/warehouse/009_warehouse_identity.sql)
-- and the database's oid (new with every CREATE DATABASE, template copies included). Backfill
-- progress is kept per identity, so a rebuilt warehouse is never taken for one that already
-- holds the days.
SELECT w.warehouse_id::text || '/' || d.oid::text
FROM warehouse_identity w
CROSS JOIN pg_database d
WHERE d.datname = current_database();
