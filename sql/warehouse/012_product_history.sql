-- Product history (issue 13): dim_product keeps versions (slowly changing dimension, type 2).
--
-- A version is a maximal run of days on which a product (retailer_id, product_sku) was sold with
-- the same (product_name, category); a day's attributes are those of its latest sale. valid_from
-- and valid_to are dates, valid_to exclusive, '9999-12-31' for the current version. The loader
-- recomputes the versions of the products a load touched from product_observations (one row per
-- product and day sold), so the result depends on the observations only, never on the order in
-- which days were (re)loaded.
--
-- Keys: product_key is the durable key, the 63-bit hash of (retailer_code, sku) the pipeline
-- computes; the first version's product_id is product_key (so facts loaded before this
-- migration stay valid without a rewrite), a later version's is product_version_key(product_key,
-- valid_from): a rerun computes the same key, never a second version. Every fact's product_id
-- is the version valid on its date_id, so `JOIN dim_product USING (product_id)` gives the
-- attributes at sale time; dim_product_current gives today's. unit_price is a fact measure,
-- not a versioned attribute.

ALTER TABLE dim_product ADD COLUMN IF NOT EXISTS product_key bigint;
ALTER TABLE dim_product ADD COLUMN IF NOT EXISTS valid_from date NOT NULL DEFAULT '-infinity';
ALTER TABLE dim_product ADD COLUMN IF NOT EXISTS valid_to date NOT NULL DEFAULT '9999-12-31';
ALTER TABLE dim_product ADD COLUMN IF NOT EXISTS is_current boolean
    GENERATED ALWAYS AS (valid_to = '9999-12-31') STORED;
COMMENT ON COLUMN dim_product.product_key IS
    'Durable key of the product (hash of retailer_code and sku), the same in all its versions';
COMMENT ON COLUMN dim_product.valid_from IS 'First day of this version (inclusive)';
COMMENT ON COLUMN dim_product.valid_to IS 'Day after the last of this version (exclusive); 9999-12-31 when current';

-- Rows written without a product_key (tools, tests, an old loader) are a product's only version.
CREATE OR REPLACE FUNCTION dim_product_default_key() RETURNS trigger
LANGUAGE plpgsql AS $f$
BEGIN
    NEW.product_key := coalesce(NEW.product_key, NEW.product_id);
    RETURN NEW;
END
$f$;
DROP TRIGGER IF EXISTS dim_product_default_key ON dim_product;
CREATE TRIGGER dim_product_default_key BEFORE INSERT ON dim_product
    FOR EACH ROW WHEN (NEW.product_key IS NULL) EXECUTE FUNCTION dim_product_default_key();
UPDATE dim_product SET product_key = product_id WHERE product_key IS NULL;
ALTER TABLE dim_product ALTER COLUMN product_key SET NOT NULL;

-- A later version's key: a function of (durable key, valid_from), so a rerun finds it again.
CREATE OR REPLACE FUNCTION product_version_key(p_key bigint, p_from date) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
    SELECT ('x' || left(md5(p_key::text || '/' || p_from::text), 16))::bit(64)::bigint & 9223372036854775807
$f$;

-- A version's natural key (retailer_id, product_sku, valid_from) is not a unique constraint: a load
-- moves the boundaries of a product's versions in one transaction, and rows may agree only at its
-- end (a deferred constraint would break every ON CONFLICT on dim_product). It holds by
-- construction: the loader writes exactly the versions it computed for a product and deletes the
-- others, and a later version's key is a function of valid_from; the quality checks
-- (product_versions) verify it after every run.
ALTER TABLE dim_product DROP CONSTRAINT IF EXISTS dim_product_natural_key;
CREATE INDEX IF NOT EXISTS dim_product_natural_idx ON dim_product (retailer_id, product_sku, valid_from);
CREATE INDEX IF NOT EXISTS dim_product_durable_idx ON dim_product (product_key, valid_from);

-- What a product looked like on each day it was sold (the latest sale of the day), per retailer:
-- the load replaces the rows of its window's days, then recomputes versions from them.
CREATE TABLE IF NOT EXISTS product_observations (
    retailer_id  smallint NOT NULL,
    product_sku  text NOT NULL,
    date_id      integer NOT NULL,
    product_key  bigint NOT NULL,
    product_name text,
    category     text,
    observed_at  timestamptz,          -- transaction_ts of the latest sale of the day
    PRIMARY KEY (retailer_id, product_sku, date_id)
);
COMMENT ON TABLE product_observations IS
    'A product''s attributes on each day it was sold; dim_product versions are computed from it';

-- An existing warehouse: its products were type 1 (the latest attributes), the only history
-- known is the days each was sold; one version per product from its first sold day.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM product_observations) THEN
        INSERT INTO product_observations (retailer_id, product_sku, date_id, product_key, product_name, category,
                                          observed_at)
        SELECT p.retailer_id, p.product_sku, f.date_id, p.product_key, p.product_name, p.category, p.attributes_as_of
        FROM (SELECT DISTINCT product_id, date_id FROM fact_sales) f
        JOIN dim_product p USING (product_id);
        UPDATE dim_product p SET valid_from = o.first_day
        FROM (SELECT product_key, to_date(min(date_id)::text, 'YYYYMMDD') AS first_day
              FROM product_observations GROUP BY product_key) o
        WHERE p.product_key = o.product_key AND p.valid_from = '-infinity';
    END IF;
END
$$;

-- "As of today": the current version of every product, with its durable key.
CREATE OR REPLACE VIEW dim_product_current AS
SELECT product_key, product_id AS current_product_id, retailer_id, product_sku, product_name, category,
       valid_from AS current_since
FROM dim_product
WHERE is_current;
COMMENT ON VIEW dim_product_current IS
    'Current version of each product; join facts by product_key for questions "as of today"';
GRANT SELECT ON dim_product_current, product_observations TO bi_reader;
