-- fact_sales drops its foreign keys to dim_customer and dim_store (issue 11 §2). ATTACH PARTITION
-- validated each of them by joining the new day's whole partition with the whole dimension:
-- ~0.15 s per key per 1,000,000 facts into an empty warehouse, more as the dimensions grow
-- (dim_customer holds every retailer's customers), about a tenth of a load.
--
-- Why every fact still has its customer and store:
-- - a fact can only be written by the loader (005_grants: bi_reader reads);
-- - the loader refuses a chunk whose facts name a customer or store that is not among that
--   chunk's own members (warehouse.dimensions.refuse_unlisted_members), and inserts the
--   members in the same transaction as the facts;
-- - members are never removed or re-keyed while facts name them: the triggers below refuse
--   it, as the foreign keys did (nothing in the pipeline deletes a customer or a store);
-- - the quality pipeline's referential_integrity check finds orphans by LEFT JOIN whether or
--   not the database enforces a key.
-- The foreign key to dim_product stays: the loader deletes product versions (product_drop.sql)
-- after re-pointing their facts, and the key is what proves it re-pointed them all.
ALTER TABLE fact_sales DROP CONSTRAINT IF EXISTS fact_sales_customer_id_fkey;
ALTER TABLE fact_sales DROP CONSTRAINT IF EXISTS fact_sales_store_id_fkey;

-- A DELETE or key UPDATE of members still named by a fact fails (foreign_key_violation, as the
-- foreign key's NO ACTION did). TG_ARGV[0]: the key column, the same name in fact_sales.
CREATE OR REPLACE FUNCTION fact_sales_keep_named_members() RETURNS trigger
LANGUAGE plpgsql AS $f$
DECLARE
    named bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT g.%1$I FROM gone g WHERE EXISTS (SELECT 1 FROM fact_sales f WHERE f.%1$I = g.%1$I) LIMIT 1',
                       TG_ARGV[0]) INTO named;
    ELSE
        EXECUTE format('SELECT g.%1$I FROM gone g WHERE NOT EXISTS (SELECT 1 FROM kept k WHERE k.%1$I = g.%1$I) '
                       'AND EXISTS (SELECT 1 FROM fact_sales f WHERE f.%1$I = g.%1$I) LIMIT 1', TG_ARGV[0]) INTO named;
    END IF;
    IF named IS NOT NULL THEN
        RAISE EXCEPTION '% on % would leave facts without their member: %=% is still named in fact_sales',
            TG_OP, TG_TABLE_NAME, TG_ARGV[0], named USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$f$;

CREATE OR REPLACE FUNCTION fact_sales_refuse_member_truncate() RETURNS trigger
LANGUAGE plpgsql AS $f$
BEGIN
    IF EXISTS (SELECT 1 FROM fact_sales) THEN
        RAISE EXCEPTION 'TRUNCATE on % would leave facts without their members', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$f$;

-- The same three triggers on each dimension, named <dimension>_named_delete, _named_update, _truncate.
DO $d$
DECLARE
    dim text;
    key text;
BEGIN
    FOR dim, key IN VALUES ('dim_customer', 'customer_id'), ('dim_store', 'store_id') LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %1$I ON %2$I; CREATE TRIGGER %1$I AFTER DELETE ON %2$I '
                       'REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION fact_sales_keep_named_members(%3$L)',
                       dim || '_named_delete', dim, key);
        EXECUTE format('DROP TRIGGER IF EXISTS %1$I ON %2$I; CREATE TRIGGER %1$I AFTER UPDATE ON %2$I '
                       'REFERENCING OLD TABLE AS gone NEW TABLE AS kept FOR EACH STATEMENT '
                       'EXECUTE FUNCTION fact_sales_keep_named_members(%3$L)', dim || '_named_update', dim, key);
        EXECUTE format('DROP TRIGGER IF EXISTS %1$I ON %2$I; CREATE TRIGGER %1$I BEFORE TRUNCATE ON %2$I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION fact_sales_refuse_member_truncate()', dim || '_truncate', dim);
    END LOOP;
END
$d$;
