-- fact_sales partitioned by retailer first, then by day, so retailers load in parallel
-- (docs/warehouse.md, "Retailers load in parallel"):
--
--   fact_sales                     PARTITION BY LIST (retailer_id)
--     fact_sales_r<id>             PARTITION BY RANGE (date_id), one per retailer
--       fact_sales_r<id>_YYYYMMDD  one per retailer and day
--
-- A load swaps a retailer's days under that retailer's own parent, so the swap's exclusive
-- locks cover one retailer's subtree: loads of different retailers never wait on each other,
-- and a BI query on fact_sales still prunes on date_id (and on retailer_id) at every level.
--
-- An existing warehouse is restructured in place, in this file's one transaction: the old
-- table (partitioned by day) is renamed, the new one created with the same columns, defaults,
-- CHECK constraints (007_sale_rules), comments, foreign keys, indexes (same names) and grants,
-- every row moved into its retailer's day, the views on fact_sales recreated, the old table
-- dropped. Its cost is one rewrite of the facts. The primary key gains retailer_id (a unique
-- key of a partitioned table holds every partition key): (date_id, sale_id, retailer_id).
-- Re-runnable: a fact_sales already partitioned by retailer is left as it is.

-- A retailer's sub-parent, and a retailer's day partition, created when missing (the loader
-- creates a new retailer's sub-parent before its first load; tests and tools use both).
CREATE OR REPLACE FUNCTION fact_sales_retailer_partition(p_retailer_id integer) RETURNS text
LANGUAGE plpgsql AS $f$
DECLARE
    name text := 'fact_sales_r' || p_retailer_id;
BEGIN
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF fact_sales FOR VALUES IN (%s) PARTITION BY RANGE (date_id)',
                       name, p_retailer_id);
    END IF;
    RETURN name;
END
$f$;

CREATE OR REPLACE FUNCTION fact_sales_day_partition(p_retailer_id integer, p_date_id integer) RETURNS text
LANGUAGE plpgsql AS $f$
DECLARE
    parent text := fact_sales_retailer_partition(p_retailer_id);
    name text := parent || '_' || p_date_id;
BEGIN
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
                       name, parent, p_date_id, p_date_id + 1);
    END IF;
    RETURN name;
END
$f$;
-- The sale rules' CHECK constraints (007_sale_rules.sql) dropped from every level of the tree.
-- 007, applied again when the rules change, drops them from fact_sales and its direct children
-- only; the retailer-day partitions two levels down hold local copies (the loader builds them
-- LIKE fact_sales INCLUDING CONSTRAINTS) that the new rules would clash with. The migration
-- runner calls this first (retail_pipeline.warehouse.migrate), then 007 adds them everywhere.
CREATE OR REPLACE FUNCTION fact_sales_drop_rule_copies() RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
    rule text;
    part regclass;
BEGIN
    FOR rule IN SELECT conname FROM pg_constraint
                WHERE conrelid = 'fact_sales'::regclass AND contype = 'c' AND conname LIKE 'fact\_sales\_%\_rule' LOOP
        EXECUTE format('ALTER TABLE fact_sales DROP CONSTRAINT IF EXISTS %I', rule);
        FOR part IN SELECT relid FROM pg_partition_tree('fact_sales') WHERE level > 0 ORDER BY level LOOP
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', part, rule);
        END LOOP;
    END LOOP;
END
$f$;
REVOKE EXECUTE ON FUNCTION fact_sales_drop_rule_copies() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION fact_sales_retailer_partition(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION fact_sales_day_partition(integer, integer) FROM PUBLIC;

DO $$
DECLARE
    item record;
    definition text;
BEGIN
    IF (SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'fact_sales'::regclass) = 'l' THEN
        RETURN;
    END IF;

    -- What to carry over, captured before anything changes.
    CREATE TEMP TABLE tmp_010_views ON COMMIT DROP AS
    SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS definition,
           obj_description(v.oid, 'pg_class') AS comment
    FROM pg_depend d
    JOIN pg_rewrite r ON r.oid = d.objid
    JOIN pg_class v ON v.oid = r.ev_class
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = 'fact_sales'::regclass
      AND v.oid <> 'fact_sales'::regclass;
    CREATE TEMP TABLE tmp_010_indexes ON COMMIT DROP AS
    SELECT c.relname AS name, replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ') AS definition
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'fact_sales'::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid);
    CREATE TEMP TABLE tmp_010_keys ON COMMIT DROP AS
    SELECT k.conname AS name, k.contype AS kind, pg_get_constraintdef(k.oid) AS definition,
           (SELECT attnum FROM pg_attribute WHERE attrelid = 'fact_sales'::regclass AND attname = 'retailer_id')
               = ANY(k.conkey) AS has_retailer
    FROM pg_constraint k
    WHERE k.conrelid = 'fact_sales'::regclass AND k.contype IN ('p', 'u', 'f');
    CREATE TEMP TABLE tmp_010_days ON COMMIT DROP AS
    SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \((\d+)\)'))[1]::int AS lo
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'fact_sales'::regclass;

    FOR item IN SELECT name FROM tmp_010_views LOOP
        EXECUTE format('DROP VIEW %s', item.name);
    END LOOP;

    -- The old table and its index names out of the way (its partitions keep theirs).
    ALTER TABLE fact_sales RENAME TO fact_sales_010_old;
    FOR item IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = 'fact_sales_010_old'::regclass LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', item.relname, left('old010_' || item.relname, 63));
    END LOOP;

    CREATE TABLE fact_sales (LIKE fact_sales_010_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS)
        PARTITION BY LIST (retailer_id);
    FOR item IN SELECT * FROM tmp_010_keys ORDER BY kind DESC, name LOOP  -- p, u, then f
        definition := item.definition;
        IF item.kind IN ('p', 'u') AND NOT item.has_retailer THEN
            definition := regexp_replace(definition, '\)', ', retailer_id)');  -- the column list's end
        END IF;
        EXECUTE format('ALTER TABLE fact_sales ADD CONSTRAINT %I %s', item.name, definition);
    END LOOP;
    FOR item IN SELECT * FROM tmp_010_indexes LOOP
        EXECUTE item.definition;
    END LOOP;

    -- One sub-parent per retailer, one partition per retailer and day the old table had.
    FOR item IN SELECT retailer_id FROM dim_retailer ORDER BY 1 LOOP
        PERFORM fact_sales_retailer_partition(item.retailer_id);
    END LOOP;
    FOR item IN SELECT r.retailer_id, d.lo FROM dim_retailer r CROSS JOIN tmp_010_days d ORDER BY 1, 2 LOOP
        PERFORM fact_sales_day_partition(item.retailer_id, item.lo);
    END LOOP;
    INSERT INTO fact_sales SELECT * FROM fact_sales_010_old;

    DROP TABLE fact_sales_010_old;
    FOR item IN SELECT * FROM tmp_010_views LOOP
        EXECUTE format('CREATE VIEW %s AS %s', item.name, item.definition);
        IF item.comment IS NOT NULL THEN
            EXECUTE format('COMMENT ON VIEW %s IS %L', item.name, item.comment);
        END IF;
        EXECUTE format('GRANT SELECT ON %s TO bi_reader', item.name);
    END LOOP;
END
$$;

-- bi_reader reads the facts (default privileges cover the partitions the loader creates).
GRANT SELECT ON fact_sales TO bi_reader;

-- One load_lock row per retailer (scope = its code; a load creates a missing one): loads of
-- different retailers take different rows, the same retailer's loads still run one at a time.
INSERT INTO load_lock (scope) SELECT retailer_code FROM dim_retailer ON CONFLICT (scope) DO NOTHING;

ANALYZE fact_sales;
