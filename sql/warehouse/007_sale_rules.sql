-- The sale rules (src/retail_pipeline/schemas/rules.py) as CHECK constraints on fact_sales, and
-- marts whose sums cannot overflow.
--
-- The double-brace placeholders are rendered from rules.SALE_RULES by the migration runner, which
-- applies this file again whenever those values change; so it is re-runnable: each rule is
-- dropped (from fact_sales and from every partition that holds its own copy) and added again.
-- Adding a CHECK to the partitioned fact_sales adds it to every partition and validates the
-- rows already there (one scan); none is NOT VALID. The loader's day tables are created
-- LIKE fact_sales INCLUDING CONSTRAINTS, so they carry the rules (ATTACH PARTITION requires a
-- new partition to have every CHECK of fact_sales) and a bad row fails the COPY, never later.
-- Money scale is not a CHECK: numeric(p,2) columns round on input, before any CHECK sees the
-- value; ingestion and staging quarantine more decimals than money_scale instead.
DO $$
DECLARE
    rule text;
    part regclass;
BEGIN
    FOREACH rule IN ARRAY ARRAY['fact_sales_quantity_rule', 'fact_sales_unit_price_rule',
                                'fact_sales_total_amount_rule', 'fact_sales_total_matches_rule',
                                'fact_sales_discount_rule', 'fact_sales_tax_rule',
                                'fact_sales_shipping_rule'] LOOP
        EXECUTE format('ALTER TABLE fact_sales DROP CONSTRAINT IF EXISTS %I', rule);
        FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'fact_sales'::regclass LOOP
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', part, rule);
        END LOOP;
    END LOOP;
END $$;

ALTER TABLE fact_sales
    ADD CONSTRAINT fact_sales_quantity_rule
        CHECK (quantity > 0 AND quantity <= {{max_quantity}}),
    ADD CONSTRAINT fact_sales_unit_price_rule
        CHECK (unit_price > 0 AND unit_price <= {{max_unit_price}}),
    ADD CONSTRAINT fact_sales_total_amount_rule
        CHECK (total_amount > 0 AND total_amount <= {{max_total_amount}}),
    ADD CONSTRAINT fact_sales_total_matches_rule
        CHECK (abs(total_amount - quantity * unit_price) <= {{total_tolerance}}),
    ADD CONSTRAINT fact_sales_discount_rule
        CHECK (discount_percentage >= 0 AND discount_percentage <= {{max_discount_percentage}}),
    ADD CONSTRAINT fact_sales_tax_rule
        CHECK (tax_amount >= 0 AND tax_amount <= {{max_extra_amount}}),
    ADD CONSTRAINT fact_sales_shipping_rule
        CHECK (shipping_cost >= 0 AND shipping_cost <= {{max_extra_amount}});

-- Sums without a precision limit: 101 rows that each pass the rules overflowed numeric(16,2)
-- and failed the whole load. Widening numeric(16,2) to numeric rewrites nothing.
ALTER TABLE mart_daily_sales
    ALTER COLUMN revenue TYPE numeric,
    ALTER COLUMN tax_amount TYPE numeric,
    ALTER COLUMN shipping_cost TYPE numeric;
ALTER TABLE mart_daily_category_sales ALTER COLUMN revenue TYPE numeric;
ALTER TABLE mart_monthly_category_sales ALTER COLUMN revenue TYPE numeric;
ALTER TABLE load_audit ALTER COLUMN total_amount_loaded TYPE numeric;
