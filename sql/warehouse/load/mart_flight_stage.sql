-- The load's mart sums, computed from its facts while they streamed (warehouse.inflight).
CREATE TEMP TABLE tmp_mart_store (date_id integer, retailer_id smallint, store_id bigint,
    transactions bigint, units_sold bigint, revenue numeric, tax_amount numeric, shipping_cost numeric)
    ON COMMIT DROP;
CREATE TEMP TABLE tmp_mart_product (date_id integer, retailer_id smallint, product_id bigint,
    transactions bigint, units_sold bigint, revenue numeric) ON COMMIT DROP
