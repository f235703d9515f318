"""The transformation pipeline against a real PostgreSQL: correctness under reruns and failures."""

from __future__ import annotations

import psycopg2
import pytest

from retail_pipeline.warehouse.migrate import apply_migrations
from tests.fixtures.kedro_project import RETAILERS as REGISTRY
from tests.transformation.conftest import sale

DAY = "2024-01-15"


def facts_summary(wh) -> list[tuple]:
    return wh.query("""SELECT f.date_id, r.retailer_code, count(*), sum(total_amount), sum(quantity)
                       FROM fact_sales f JOIN dim_retailer r USING (retailer_id)
                       GROUP BY 1, 2 ORDER BY 1, 2""")


def snapshot(wh) -> dict:
    return {
        "facts": facts_summary(wh),
        "rows": wh.query("SELECT retailer_id, transaction_id, product_id, customer_id, store_id, date_id, "
                         "quantity, unit_price, total_amount FROM fact_sales ORDER BY 1, 2"),
        "products": wh.query("SELECT * FROM dim_product ORDER BY product_id"),
        "customers": wh.scalar("SELECT count(*) FROM dim_customer"),
        "stores": wh.scalar("SELECT count(*) FROM dim_store"),
        "quarantine": wh.query("SELECT retailer_code, transaction_id, sale_date, reason FROM warehouse_quarantine ORDER BY 1, 2"),
        "mart": wh.query("SELECT date_id, retailer_code, store_external_id, transactions, revenue FROM mart_daily_sales ORDER BY 1, 2, 3"),
        "monthly": wh.query("SELECT * FROM mart_monthly_category_sales ORDER BY 1, 2, 3, 5"),
        "partitions": wh.query("SELECT relid::text, level FROM pg_partition_tree('fact_sales') ORDER BY 1"),
    }


def base_rows():
    return [
        sale("retailer_1", "ORD-1", "SKU-A", "2024-01-14", quantity=2, unit_price=10.0),
        sale("retailer_1", "ORD-2", "SKU-B", DAY, quantity=1, unit_price=5.5, customer=None),
        sale("retailer_2", "TXN-1", "SKU-A", DAY, quantity=3, unit_price=1.25, tax_amount=0.3),
        sale("retailer_3", "S-1", "P-9", DAY, quantity=1, unit_price=99.99, shipping_cost=4.0, store="OUT-7"),
        # not loadable: missing product code, null store
        sale("retailer_2", "TXN-2", None, DAY),
        sale("retailer_3", "S-2", "P-1", DAY, store=None),
    ]


def test_migrations_are_idempotent_and_recorded(warehouse):
    assert apply_migrations(warehouse.url) == []
    versions = [r[0] for r in warehouse.query("SELECT version FROM schema_version ORDER BY 1")]
    assert versions[:5] == ["001_roles_and_dimensions.sql", "002_fact_sales.sql",
                            "003_quarantine_and_audit.sql", "004_marts.sql", "005_grants.sql"]


def test_first_load_builds_the_star_schema(wh_project):
    wh = wh_project.warehouse
    wh_project.raw.write(base_rows())
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-1")

    assert facts_summary(wh) == [
        (20240114, "retailer_1", 1, pytest.approx(20.0), 2),
        (20240115, "retailer_1", 1, pytest.approx(5.5), 1),
        (20240115, "retailer_2", 1, pytest.approx(3.75), 3),
        (20240115, "retailer_3", 1, pytest.approx(99.99), 1),
    ]
    # SKU-A sold by two retailers: two products, each scoped to its retailer
    assert wh.query("SELECT r.retailer_code FROM dim_product p JOIN dim_retailer r USING (retailer_id) "
                    "WHERE product_sku = 'SKU-A' ORDER BY 1") == [("retailer_1",), ("retailer_2",)]
    # extra measures and lineage
    assert wh.query("SELECT tax_amount, run_id FROM fact_sales WHERE transaction_id = 'TXN-1'")[0] == (
        pytest.approx(0.3), "run-1")
    assert wh.scalar("SELECT shipping_cost FROM fact_sales WHERE transaction_id = 'S-1'") == pytest.approx(4.0)
    # a sale without a customer points at the retailer's unknown member
    assert wh.scalar("SELECT c.customer_external_id FROM fact_sales f JOIN dim_customer c USING (customer_id) "
                     "WHERE transaction_id = 'ORD-2'") == "(unknown)"
    # quarantined with a reason, not dropped
    quarantine = dict(wh.query("SELECT transaction_id, reason FROM warehouse_quarantine"))
    assert set(quarantine) == {"TXN-2", "S-2"}
    assert "product_sku" in quarantine["TXN-2"] and "store_external_id" in quarantine["S-2"]
    # dim_date complete for the window; fact_sales partitioned by retailer, then one partition
    # per retailer and window day
    assert wh.scalar("SELECT count(*) FROM dim_date WHERE date_id BETWEEN 20240114 AND 20240115") == 2
    tree = wh.query("SELECT relid::text, level FROM pg_partition_tree('fact_sales') WHERE level > 0 ORDER BY 2, 1")
    ids = sorted(entry["retailer_id"] for entry in REGISTRY.values())  # every registry retailer loads
    assert tree == sorted([(f"fact_sales_r{n}", 1) for n in ids], key=lambda r: r[0]) + sorted(
        [(f"fact_sales_r{n}_{d}", 2) for n in ids for d in (20240114, 20240115)], key=lambda r: r[0])
    # audit: one row per retailer of the registry and day; facts + quarantine = source rows
    audit = wh.query("SELECT retailer_code, sale_date::text, rows_loaded, total_amount_loaded, rows_quarantined "
                     "FROM load_audit WHERE run_id = 'run-1' ORDER BY 1, 2")
    assert len(audit) == len(REGISTRY) * 2
    assert sum(r[2] + r[4] for r in audit) == len(base_rows())
    # marts
    assert wh.scalar("SELECT sum(revenue) FROM mart_daily_sales") == pytest.approx(20 + 5.5 + 3.75 + 99.99)
    assert wh.scalar("SELECT sum(revenue) FROM mart_monthly_category_sales WHERE year = 2024 AND month = 1") == \
        pytest.approx(20 + 5.5 + 3.75 + 99.99)
    assert wh.scalar("SELECT product_sku FROM mart_top_products WHERE retailer_code = 'retailer_3' "
                     "AND revenue_rank = 1") == "P-9"


def test_rerun_of_the_same_date_changes_nothing(wh_project):
    wh = wh_project.warehouse
    wh_project.raw.write(base_rows())
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-1")
    before = snapshot(wh)
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-2")
    assert snapshot(wh) == before


def test_rerun_repairs_manual_edits_and_deletions(wh_project):
    wh = wh_project.warehouse
    wh_project.raw.write(base_rows())
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-1")
    before = snapshot(wh)
    wh.query("UPDATE fact_sales SET total_amount = 1, unit_price = 1 WHERE transaction_id = 'S-1'")
    wh.query("DELETE FROM fact_sales WHERE transaction_id = 'TXN-1'")
    wh.query("INSERT INTO fact_sales SELECT 42, date_id, product_id, customer_id, store_id, retailer_id, 'FAKE', "
             "quantity, unit_price, total_amount, NULL, NULL, NULL, transaction_ts, 'manual', now() "
             "FROM fact_sales WHERE transaction_id = 'ORD-2'")
    assert snapshot(wh) != before
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-2")
    assert snapshot(wh) == before


def test_overlapping_backfill_gives_the_same_rows(wh_project):
    wh = wh_project.warehouse
    rows = [sale(f"retailer_{n}", f"T{n}-{d}", f"SKU-{d % 3}", f"2024-01-{d:02d}", unit_price=d + n / 100)
            for d in range(10, 16) for n in (1, 2, 3)]
    wh_project.raw.write(rows)
    # daily runs with a 2-day look-back over 12..15, then a backfill overlapping them
    for day in ("2024-01-12", "2024-01-13", "2024-01-14", "2024-01-15"):
        wh_project.run("transformation", run_date=day, lookback_days=2, run_id=f"daily-{day}")
    after_daily = snapshot(wh)
    wh_project.run("transformation", run_date="2024-01-14", lookback_days=3, run_id="backfill")
    assert snapshot(wh) == after_daily
    assert wh.scalar("SELECT count(*) FROM fact_sales") == len(rows)
    assert wh.scalar("SELECT sum(total_amount) FROM fact_sales") == pytest.approx(sum(r["total_amount"] for r in rows))


def test_late_row_lands_in_its_day_and_corrected_row_updates(wh_project):
    wh = wh_project.warehouse
    rows = base_rows()
    wh_project.raw.write(rows)
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-1")
    # next day: a late row for the 14th arrives and ORD-1 is corrected (same id, new values)
    late = sale("retailer_1", "ORD-LATE", "SKU-C", "2024-01-14", unit_price=7.0, ingested_at="2024-01-17T00:00:00Z")
    corrected = sale("retailer_1", "ORD-1", "SKU-A", "2024-01-14", quantity=5, unit_price=10.0,
                     ingested_at="2024-01-17T00:00:00Z")
    old = [r for r in rows if r["sale_date"] == "2024-01-14"]
    # the raw zone's day now holds the old version and its correction (and the late row)
    wh_project.raw.write(old + [corrected, late])
    wh_project.run("transformation", run_date="2024-01-16", lookback_days=2, run_id="run-2")
    assert wh.query("SELECT transaction_id, quantity, total_amount FROM fact_sales WHERE date_id = 20240114 "
                    "ORDER BY 1") == [("ORD-1", 5, pytest.approx(50.0)), ("ORD-LATE", 1, pytest.approx(7.0))]
    assert wh.scalar("SELECT count(*) FROM fact_sales WHERE date_id = 20240115") == 3
    # the empty run date gets its partition and calendar row
    assert wh.scalar("SELECT count(*) FROM dim_date WHERE date_id = 20240116") == 1


def test_failure_mid_load_leaves_nothing_partial(wh_project, monkeypatch):
    from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset

    wh = wh_project.warehouse
    wh_project.raw.write(base_rows())
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-1")
    before = snapshot(wh)
    tables_before = wh.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1")

    changed = base_rows() + [sale("retailer_1", "ORD-NEW", "SKU-Z", DAY, unit_price=1000.0)]
    wh_project.raw.write(changed)
    original = PostgresStarSchemaDataset._step

    def failing_step(self, name):
        original(self, name)
        if name == "attach 20240114":  # after the first day was swapped in, before the second
            raise RuntimeError("injected failure")

    monkeypatch.setattr(PostgresStarSchemaDataset, "_step", failing_step)
    with pytest.raises(Exception, match="injected failure"):
        wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-2")
    assert snapshot(wh) == before
    assert wh.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1") == tables_before
    assert wh.scalar("SELECT count(*) FROM load_audit WHERE run_id = 'run-2'") == 0


def test_bi_reader_can_read_but_not_write(wh_project, pg_server):
    wh = wh_project.warehouse
    wh_project.raw.write(base_rows())
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-1")
    pg_server.ensure_role("bi_reader", "reader-pw")  # the stack gives the role LOGIN
    conn = psycopg2.connect(pg_server.dsn(wh.dbname, "bi_reader", "reader-pw"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM fact_sales")
            assert cur.fetchone()[0] == 4
            cur.execute("SELECT count(*) FROM mart_top_products")
            for statement in ("INSERT INTO dim_retailer VALUES (9, 'x', 'x')",
                              "DELETE FROM fact_sales",
                              "UPDATE mart_daily_sales SET revenue = 0",
                              "CREATE TABLE sneaky (id int)"):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(statement)
    finally:
        conn.close()
