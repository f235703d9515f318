"""010_fact_sales_by_retailer.sql restructures a warehouse that already holds facts: fact_sales
partitioned by day becomes partitioned by retailer, then by day, with every row, constraint,
index, foreign key, grant and view kept; the loader then works on it."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import psycopg2
import pytest

from retail_pipeline.warehouse.migrate import SQL_DIR, apply_migrations
from tests.fixtures.warehouse import LOADER, Warehouse
from tests.transformation.exactly_once_checks import assert_ranges_cover, marts_agree

DAYS = (20240113, 20240114, 20240115)
PER_DAY = 300  # facts per day, over three retailers


def old_warehouse(pg_server, loader_password, tmp_path, dbname: str) -> Warehouse:
    """A warehouse at 009 holding facts loaded the old way (one partition per day, all retailers)."""
    before = tmp_path / "sql"
    before.mkdir()
    for path in sorted(Path(SQL_DIR).glob("00[1-5]_*.sql")):
        (before / path.name).write_text(path.read_text())
    pg_server.drop_database(dbname)
    pg_server.ensure_database(dbname, owner=LOADER)
    url = pg_server.url(dbname, LOADER, loader_password)
    apply_migrations(url, before)
    wh = Warehouse(pg_server, dbname, loader_password)
    with closing(psycopg2.connect(wh.dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute("""
            INSERT INTO dim_retailer VALUES (1, 'retailer_1', 'R1'), (2, 'retailer_2', 'R2'), (3, 'retailer_3', 'R3');
            INSERT INTO dim_date (date_id, date, year, quarter, month, week, day, day_of_week, day_name, is_weekend)
            SELECT to_char(d, 'YYYYMMDD')::int, d::date, 2024, 1, 1, 2, extract(day FROM d), extract(isodow FROM d),
                   trim(to_char(d, 'FMDay')), extract(isodow FROM d) IN (6, 7)
            FROM generate_series('2024-01-13'::date, '2024-01-15'::date, interval '1 day') d;
            INSERT INTO dim_product (product_id, retailer_id, product_sku, category, run_id)
            SELECT 100 + g, 1 + g % 3, 'SKU-' || g, 'Cat ' || (g % 2), 'old' FROM generate_series(0, 8) g;
            INSERT INTO dim_customer (customer_id, retailer_id, customer_external_id, run_id)
            SELECT 200 + g, 1 + g % 3, 'C' || g, 'old' FROM generate_series(0, 8) g;
            INSERT INTO dim_store (store_id, retailer_id, store_external_id, run_id)
            SELECT 300 + g, 1 + g % 3, 'S' || g, 'old' FROM generate_series(0, 8) g;""")
        for date_id in DAYS:
            cur.execute(f"CREATE TABLE fact_sales_{date_id} PARTITION OF fact_sales "
                        f"FOR VALUES FROM ({date_id}) TO ({date_id + 1})")
            cur.execute("""
                INSERT INTO fact_sales (sale_id, date_id, product_id, customer_id, store_id, retailer_id,
                    transaction_id, quantity, unit_price, total_amount, tax_amount, transaction_ts, run_id)
                SELECT %(d)s::bigint * 1000 + g, %(d)s, 100 + g %% 9, 200 + g %% 9, 300 + g %% 9, 1 + (g %% 9) %% 3,
                       'T-' || %(d)s || '-' || g, 1 + g %% 4, 2.5, (1 + g %% 4) * 2.5,
                       CASE WHEN (g %% 9) %% 3 = 1 THEN 0.2 END, to_date(%(d)s::text, 'YYYYMMDD') + interval '12 hours', 'old'
                FROM generate_series(1, %(n)s) g""", {"d": date_id, "n": PER_DAY})
            for mart_sql in ("""
                INSERT INTO mart_daily_sales SELECT f.date_id, dd.date, f.retailer_id, r.retailer_code, f.store_id,
                       s.store_external_id, count(*), sum(quantity), sum(total_amount), sum(tax_amount), sum(shipping_cost)
                FROM fact_sales f JOIN dim_date dd USING (date_id) JOIN dim_retailer r USING (retailer_id)
                JOIN dim_store s USING (store_id) WHERE f.date_id = %(d)s GROUP BY 1, 2, 3, 4, 5, 6""", """
                INSERT INTO mart_daily_category_sales SELECT f.date_id, f.retailer_id, coalesce(p.category, '(none)'),
                       count(*), sum(quantity), sum(total_amount)
                FROM fact_sales f JOIN dim_product p USING (product_id) WHERE f.date_id = %(d)s GROUP BY 1, 2, 3"""):
                cur.execute(mart_sql, {"d": date_id})
        cur.execute("""INSERT INTO mart_monthly_category_sales SELECT 2024, 1, c.retailer_id, r.retailer_code, c.category,
                              sum(transactions), sum(units_sold), sum(revenue)
                       FROM mart_daily_category_sales c JOIN dim_retailer r USING (retailer_id) GROUP BY 3, 4, 5""")
    return wh


SUMMARY = """SELECT retailer_id, date_id, count(*), sum(total_amount), sum(quantity), sum(tax_amount),
                    count(DISTINCT sale_id), min(created_at) IS NOT NULL
             FROM fact_sales GROUP BY 1, 2 ORDER BY 1, 2"""


def test_010_moves_existing_facts_by_retailer_and_keeps_everything(pg_server, loader_password, tmp_path):
    dbname = "wh_migrate_010"
    wh = old_warehouse(pg_server, loader_password, tmp_path, dbname)
    try:
        before = wh.query(SUMMARY)
        top = ("SELECT retailer_id, retailer_code, product_id, product_sku, product_name, category, units_sold, "
               "revenue, revenue_rank FROM mart_top_products ORDER BY product_id")  # the columns 014 kept
        top_before = wh.query(top)
        assert len(before) == 9 and sum(r[2] for r in before) == 3 * PER_DAY

        applied = apply_migrations(wh.url)
        assert "010_fact_sales_by_retailer.sql" in applied
        assert wh.query(SUMMARY) == before                       # every row, in its retailer's day
        assert wh.query(top) == top_before
        # the new tree: fact_sales -> fact_sales_r<id> -> fact_sales_r<id>_YYYYMMDD
        tree = wh.query("SELECT relid::text, parentrelid::text, level FROM pg_partition_tree('fact_sales') ORDER BY 3, 1")
        assert [r for r in tree if r[2] == 1] == [(f"fact_sales_r{n}", "fact_sales", 1) for n in (1, 2, 3)]
        assert sorted(r[0] for r in tree if r[2] == 2) == sorted(f"fact_sales_r{n}_{d}" for n in (1, 2, 3) for d in DAYS)
        assert wh.scalar("SELECT count(*) FROM fact_sales_r2_20240114") == PER_DAY // 3
        # keys, constraints, indexes, foreign keys
        constraints = dict(wh.query("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                                    "WHERE conrelid = 'fact_sales'::regclass"))
        assert constraints["fact_sales_pkey"] == "PRIMARY KEY (date_id, sale_id, retailer_id)"
        assert "fact_sales_natural_key" not in constraints  # dropped by 011 (fact_sales_key, then fact_sales_id_range, keep exactly once)
        # 015 dropped the date and retailer ones (the partition bounds imply them), 021 the customer
        # and store ones (the loader checks its members, the dimensions keep the named ones)
        assert {name for name, d in constraints.items() if d.startswith("FOREIGN KEY")} == {"fact_sales_product_id_fkey"}
        assert {name for name in constraints if name.endswith("_rule")} == {
            "fact_sales_quantity_rule", "fact_sales_unit_price_rule", "fact_sales_total_amount_rule",
            "fact_sales_total_matches_rule", "fact_sales_discount_rule", "fact_sales_tax_rule",
            "fact_sales_shipping_rule"}
        assert {r[0] for r in wh.query("SELECT indexname FROM pg_indexes WHERE tablename = 'fact_sales'")} == {
            "fact_sales_pkey", "fact_sales_product_idx"}  # 011 dropped the indexes no query needs
        with pytest.raises(psycopg2.errors.CheckViolation):
            wh.query("INSERT INTO fact_sales (sale_id, date_id, product_id, customer_id, store_id, retailer_id, "
                     "transaction_id, quantity, unit_price, total_amount, transaction_ts, run_id) "
                     "VALUES (1, 20240114, 101, 201, 301, 2, 'bad', 0, 1, 0, now(), 'x')")
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            wh.query("INSERT INTO fact_sales (sale_id, date_id, product_id, customer_id, store_id, retailer_id, "
                     "transaction_id, quantity, unit_price, total_amount, transaction_ts, run_id) "
                     "VALUES (1, 20240114, 999, 201, 301, 2, 'orphan', 1, 1, 1, now(), 'x')")
        assert wh.scalar("SELECT has_table_privilege('bi_reader', 'fact_sales', 'SELECT')") is True
        assert wh.scalar("SELECT has_table_privilege('bi_reader', 'mart_top_products', 'SELECT')") is True
        assert wh.query("SELECT scope FROM load_lock ORDER BY 1") == [
            ("retailer_1",), ("retailer_2",), ("retailer_3",), ("warehouse",)]
        # a BI query on a day still prunes to that day's partitions (of every retailer)
        plan = "\n".join(r[0] for r in wh.query("EXPLAIN SELECT sum(total_amount) FROM fact_sales WHERE date_id = 20240114"))
        assert "fact_sales_r1_20240114" in plan and "20240113" not in plan and "20240115" not in plan
        assert_ranges_cover(wh)
        marts_agree(wh)
        assert apply_migrations(wh.url) == []                    # re-applying changes nothing

        # the loader on the migrated warehouse: one retailer's day replaced, the others untouched
        import pandas as pd

        from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset
        from retail_pipeline.pipelines.transformation.nodes import build_retailer_star_schema, stage_sales
        from tests.transformation.conftest import sale

        registry = {"retailer_1": {"retailer_id": 1, "name": "R1", "timezone": "UTC"},
                    "retailer_2": {"retailer_id": 2, "name": "R2", "timezone": "UTC"},
                    "retailer_3": {"retailer_id": 3, "name": "R3", "timezone": "UTC"}}
        old_r2 = wh.query("SELECT transaction_id FROM fact_sales WHERE retailer_id = 2 AND date_id = 20240115")
        fresh = [sale("retailer_2", txn, "SKU-N", "2024-01-15", customer="NEW-C", store="NEW-S") for (txn,) in old_r2]
        staged, held = stage_sales(registry, "2024-01-15", 0, "new", pd.DataFrame(fresh))
        load = build_retailer_star_schema({**registry["retailer_2"], "code": "retailer_2"}, registry,
                                          {"max_fact_loss_share": 0.5}, "2024-01-15", 0, "new", False, staged, held)
        PostgresStarSchemaDataset(credentials={"con": wh.url}, retailer="retailer_2").save(load)
        after = wh.query(SUMMARY)
        assert [r for r in after if (r[0], r[1]) != (2, 20240115)] == [r for r in before if (r[0], r[1]) != (2, 20240115)]
        assert wh.query("SELECT DISTINCT run_id FROM fact_sales WHERE retailer_id = 2 AND date_id = 20240115") == [("new",)]
        assert_ranges_cover(wh)
        marts_agree(wh)
    finally:
        pg_server.drop_database(dbname)
