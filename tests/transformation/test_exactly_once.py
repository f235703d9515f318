"""Exactly once across windows (issue 9, items 3 and 4), driven through the transformation
pipeline on a real PostgreSQL: a line lives on one day in all of fact_sales, moves when the
source moves it, and never leaves the facts without a row in fact_sales_changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg2
import pytest

from retail_pipeline.warehouse.migrate import SQL_DIR, apply_migrations
from tests.transformation.conftest import sale
from tests.transformation.exactly_once_checks import assert_ranges_cover, assert_saved, changes, marts_agree

LATER = "2024-01-20T00:00:00Z"  # ingested_at of a corrected version


def day_rows(code: str, prefix: str, day: str, n: int, price: float = 10.0) -> list[dict]:
    return [sale(code, f"{prefix}-{i}", f"SKU-{i % 3}", day, unit_price=price + i) for i in range(n)]


def where_is(wh, txn: str) -> list[tuple]:
    return wh.query("SELECT date_id, total_amount FROM fact_sales WHERE transaction_id = %s ORDER BY 1", (txn,))


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_a_line_corrected_into_another_window_moves(wh_project, order):
    """Item 3: the same id on two days in different windows is one fact, on its latest day."""
    wh = wh_project.warehouse
    first = day_rows("retailer_1", "A", "2024-01-14", 3) + day_rows("retailer_2", "B", "2024-01-14", 2)
    second = day_rows("retailer_1", "C", "2024-01-17", 2)
    moved = sale("retailer_1", "A-1", "SKU-1", "2024-01-17", unit_price=11.0, quantity=2, ingested_at=LATER)
    windows = [("2024-01-15", first), ("2024-01-18", second + [moved])]
    if order == "backward":  # the correction back-dates a line from a later window into an earlier one
        moved = sale("retailer_1", "C-0", "SKU-0", "2024-01-14", unit_price=10.0, quantity=3, ingested_at=LATER)
        windows = [("2024-01-18", second), ("2024-01-15", first + [moved])]
    for n, (run_date, rows) in enumerate(windows, 1):
        wh_project.raw.write(rows)
        wh_project.run("transformation", run_date=run_date, lookback_days=1, run_id=f"run-{n}")

    if order == "forward":
        txn, old_day, new_day, old_amount = "A-1", "2024-01-14", "2024-01-17", 11.0
    else:
        txn, old_day, new_day, old_amount = "C-0", "2024-01-17", "2024-01-14", 10.0
    assert where_is(wh, txn) == [(int(new_day.replace("-", "")), pytest.approx(moved["total_amount"]))]
    assert changes(wh) == [("run-2", "retailer_1", txn, "moved", old_day, new_day, 1, pytest.approx(old_amount))]
    marts_agree(wh)  # the old day's marts (outside the second window) were recomputed
    second_window = ("2024-01-17", "2024-01-18") if order == "forward" else ("2024-01-14", "2024-01-15")
    assert_saved(wh, windows[1][1], *second_window)


def test_a_line_moved_within_the_window_is_one_fact_and_recorded(wh_project):
    wh = wh_project.warehouse
    rows = day_rows("retailer_3", "S", "2024-01-14", 3)
    wh_project.raw.write(rows)
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=1, run_id="run-1")
    moved = sale("retailer_3", "S-2", "SKU-2", "2024-01-15", unit_price=5.0, ingested_at=LATER)
    rows = rows[:2] + [moved]
    wh_project.raw.write(rows[:2])
    wh_project.raw.write([moved])
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=1, run_id="run-2")
    assert where_is(wh, "S-2") == [(20240115, pytest.approx(5.0))]
    assert changes(wh) == [("run-2", "retailer_3", "S-2", "moved", "2024-01-14", "2024-01-15", 1, pytest.approx(12.0))]
    assert_saved(wh, rows, "2024-01-14", "2024-01-15")
    marts_agree(wh)


def test_a_line_moved_out_of_the_window_is_recorded_then_loaded_once(wh_project):
    """Item 4: moved from inside the window to a day outside it: not silent, and not doubled later."""
    wh = wh_project.warehouse
    rows = day_rows("retailer_1", "A", "2024-01-15", 4)
    wh_project.raw.write(rows)
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=1, run_id="run-1")
    # the source now has A-3 on the 18th: the raw zone's 15th no longer holds it
    wh_project.raw.write(rows[:3])
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=1, run_id="run-2")
    assert where_is(wh, "A-3") == []
    assert changes(wh) == [("run-2", "retailer_1", "A-3", "disappeared", "2024-01-15", None, 1, pytest.approx(13.0))]
    assert_saved(wh, rows[:3], "2024-01-14", "2024-01-15")
    late = sale("retailer_1", "A-3", "SKU-0", "2024-01-18", unit_price=13.0, ingested_at=LATER)
    wh_project.raw.write([late])
    wh_project.run("transformation", run_date="2024-01-18", lookback_days=1, run_id="run-3")
    assert where_is(wh, "A-3") == [(20240118, pytest.approx(13.0))]
    assert changes(wh, "run-3") == []
    assert_ranges_cover(wh)
    marts_agree(wh)


def test_a_fact_whose_new_version_is_quarantined_is_recorded_as_quarantined(wh_project):
    wh = wh_project.warehouse
    rows = day_rows("retailer_2", "T", "2024-01-15", 3)
    wh_project.raw.write(rows)
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=0, run_id="run-1")
    broken = sale("retailer_2", "T-0", "SKU-0", "2024-01-15", store=None, ingested_at=LATER)
    rows = [broken] + rows[1:]
    wh_project.raw.write(rows)
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=0, run_id="run-2")
    assert [c[2:4] for c in changes(wh)] == [("T-0", "quarantined")]
    assert wh.scalar("SELECT count(*) FROM warehouse_quarantine WHERE transaction_id = 'T-0'") == 1
    assert_saved(wh, rows, "2024-01-15", "2024-01-15")


def test_a_retailer_day_losing_most_of_its_facts_is_refused_until_accepted(wh_project):
    """Item 4: a retailer-day deleted at the source fails the run naming it; an operator accepts."""
    wh = wh_project.warehouse
    kept = day_rows("retailer_1", "A", "2024-01-15", 2)
    purged = day_rows("retailer_2", "B", "2024-01-15", 3)
    half = day_rows("retailer_3", "C", "2024-01-14", 4)
    wh_project.raw.write(kept + purged + half)
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=1, run_id="run-1")
    facts_before = wh.query("SELECT transaction_id, date_id FROM fact_sales ORDER BY 1")

    # retailer_2's 15th is gone at the source; retailer_3's 14th lost exactly half (allowed)
    raw_day = wh_project.raw.root / "raw" / "retailer_2" / "year=2024" / "month=01" / "day=15" / "sales_data.json"
    raw_day.write_text("")
    wh_project.raw.write(half[:2])
    with pytest.raises(Exception) as refused:
        wh_project.run("transformation", run_date="2024-01-15", lookback_days=1, run_id="run-2")
    last_line = str(refused.value).strip().splitlines()[-1]
    assert "retailer_2 2024-01-15 would lose 3 of its 3 facts (100%)" in last_line and "retailer_3" not in last_line
    assert "accept_fact_loss=retailer_2:2024-01-15" in last_line
    # each retailer loads on its own: the refusal leaves retailer_2 as it was (another retailer's
    # load of the same run commits or not by its own outcome)
    r2 = "SELECT transaction_id, date_id FROM fact_sales WHERE retailer_id = 2 ORDER BY 1"
    assert wh.query(r2) == [row for row in facts_before if row[0].startswith("B-")]
    assert [c for c in changes(wh) if c[1] == "retailer_2"] == []
    assert wh.scalar("SELECT count(*) FROM load_audit WHERE run_id = 'run-2' AND retailer_code = 'retailer_2'") == 0

    with pytest.raises(Exception, match="retailer_2 2024-01-15"):  # accepting another day does not do
        wh_project.run("transformation", run_date="2024-01-15", lookback_days=1, run_id="run-3",
                       accept_fact_loss="retailer_2:2024-01-14")
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=1, run_id="run-4",
                   accept_fact_loss="retailer_2:2024-01-15")
    assert sorted(c[2:4] for c in changes(wh, "run-4")) == [
        ("B-0", "disappeared"), ("B-1", "disappeared"), ("B-2", "disappeared"),
        ("C-2", "disappeared"), ("C-3", "disappeared")]
    assert_saved(wh, kept + half[:2], "2024-01-14", "2024-01-15")
    marts_agree(wh)


def test_accept_fact_loss_true_and_a_configured_share(wh_project):
    wh = wh_project.warehouse
    rows = day_rows("retailer_1", "A", "2024-01-15", 10)
    wh_project.raw.write(rows)
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=0, run_id="run-1")
    wh_project.raw.write(rows[:8])  # 20 % lost
    params = yaml_params(wh_project)
    params["warehouse"]["max_fact_loss_share"] = 0.1
    wh_project.write_yaml("local/parameters_transformation.yml", params)
    with pytest.raises(Exception, match=r"retailer_1 2024-01-15 would lose 2 of its 10 facts \(20%\), more than warehouse.max_fact_loss_share=10%"):
        wh_project.run("transformation", run_date="2024-01-15", lookback_days=0, run_id="run-2")
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=0, run_id="run-3", accept_fact_loss=True)
    assert wh.scalar("SELECT count(*) FROM fact_sales") == 8
    assert len(changes(wh, "run-3")) == 2


def yaml_params(project) -> dict:
    import yaml

    return yaml.safe_load((project.conf / "base" / "parameters_transformation.yml").read_text())


def test_a_malformed_acceptance_fails_before_loading(wh_project):
    wh_project.raw.write(day_rows("retailer_1", "A", "2024-01-15", 1))
    with pytest.raises(Exception, match="retailer_code:YYYY-MM-DD"):
        wh_project.run("transformation", run_date="2024-01-15", lookback_days=0, run_id="run-1",
                       accept_fact_loss="retailer_1:yesterday")
    assert wh_project.warehouse.scalar("SELECT count(*) FROM fact_sales") == 0


def test_fact_loss_policy_reads_what_operators_type():
    from retail_pipeline.warehouse.exactly_once import FactLossPolicy

    policy = FactLossPolicy.from_load({"max_share": 0.25, "accept": "retailer_1:2024-01-15; retailer_2:2024-01-16"})
    assert policy.accepts("retailer_1", dt.date(2024, 1, 15)) and policy.accepts("retailer_2", dt.date(2024, 1, 16))
    assert not policy.accepts("retailer_1", dt.date(2024, 1, 16))
    assert FactLossPolicy.from_load({"accept": True}).accepts("retailer_3", dt.date(2020, 1, 1))
    assert not FactLossPolicy.from_load(None).accepts("retailer_3", dt.date(2020, 1, 1))
    assert FactLossPolicy.from_load(None).max_share == 0.5
    with pytest.raises(Exception, match="between 0 and 1"):
        FactLossPolicy.from_load({"max_share": 50})


def test_a_rerun_follows_product_corrections_and_rewrites_hand_edited_ranges(wh_project):
    wh = wh_project.warehouse
    rows = day_rows("retailer_1", "A", "2024-01-15", 3)
    wh_project.raw.write(rows)
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=0, run_id="run-1")
    rows[0] = sale("retailer_1", "A-0", "SKU-NEW", "2024-01-15", ingested_at=LATER)  # product corrected
    wh_project.raw.write(rows)
    wh.query("UPDATE fact_sales_id_range SET first_transaction_id = 'A-1', last_transaction_id = 'A-1'")  # too narrow
    wh.query("INSERT INTO fact_sales_id_range VALUES (1, 20240116, 'GHOST', 'GHOST')")  # a day without facts
    wh_project.run("transformation", run_date="2024-01-15", lookback_days=0, run_id="run-2")
    assert changes(wh) == []  # a corrected product on the same day is an update, not a change
    assert_saved(wh, rows, "2024-01-15", "2024-01-15")  # the window day's range is exact again
    assert wh.query("SELECT first_transaction_id, last_transaction_id FROM fact_sales_id_range "
                    "WHERE date_id = 20240115") == [("A-0", "A-2")]


def test_the_load_lock_row_exists_and_bi_reader_may_only_read_it(warehouse):
    """FOR UPDATE needs UPDATE privilege: with SELECT only, bi_reader cannot lock the row."""
    assert warehouse.query("SELECT scope FROM load_lock") == [("warehouse",)]
    assert warehouse.query("SELECT privilege_type FROM information_schema.role_table_grants "
                           "WHERE grantee = 'bi_reader' AND table_name = 'load_lock'") == [("SELECT",)]


def test_migration_006_removes_duplicates_made_before_it(pg_server, loader_password, tmp_path):
    """A warehouse loaded by the old loader may hold one line on two days: 006 keeps the last loaded."""
    from tests.fixtures.warehouse import LOADER

    before = tmp_path / "sql"
    before.mkdir()
    for path in sorted(Path(SQL_DIR).glob("00[1-5]_*.sql")):
        (before / path.name).write_text(path.read_text())
    dbname = "wh_migrate_006"
    pg_server.drop_database(dbname)
    pg_server.ensure_database(dbname, owner=LOADER)
    url = pg_server.url(dbname, LOADER, loader_password)
    try:
        apply_migrations(url, before)
        with psycopg2.connect(pg_server.dsn(dbname, LOADER, loader_password)) as conn, conn.cursor() as cur:
            cur.execute("""
                INSERT INTO dim_retailer VALUES (1, 'retailer_1', 'R1');
                INSERT INTO dim_date (date_id, date, year, quarter, month, week, day, day_of_week, day_name, is_weekend)
                VALUES (20240114, '2024-01-14', 2024, 1, 1, 2, 14, 7, 'Sunday', true),
                       (20240117, '2024-01-17', 2024, 1, 1, 3, 17, 3, 'Wednesday', false);
                INSERT INTO dim_product (product_id, retailer_id, product_sku, run_id) VALUES (7, 1, 'SKU', 'r');
                INSERT INTO dim_customer (customer_id, retailer_id, customer_external_id, run_id) VALUES (8, 1, 'C', 'r');
                INSERT INTO dim_store (store_id, retailer_id, store_external_id, run_id) VALUES (9, 1, 'S', 'r');
                CREATE TABLE fact_sales_20240114 PARTITION OF fact_sales FOR VALUES FROM (20240114) TO (20240115);
                CREATE TABLE fact_sales_20240117 PARTITION OF fact_sales FOR VALUES FROM (20240117) TO (20240118);
                INSERT INTO fact_sales (sale_id, date_id, product_id, customer_id, store_id, retailer_id, transaction_id,
                    quantity, unit_price, total_amount, transaction_ts, run_id, created_at)
                VALUES (1, 20240114, 7, 8, 9, 1, 'DUP', 1, 5, 5, '2024-01-14T10:00Z', 'old', '2024-01-15'),
                       (1, 20240117, 7, 8, 9, 1, 'DUP', 2, 5, 10, '2024-01-17T10:00Z', 'new', '2024-01-18'),
                       (2, 20240114, 7, 8, 9, 1, 'ONE', 1, 3, 3, '2024-01-14T11:00Z', 'old', '2024-01-15');
                INSERT INTO mart_daily_category_sales VALUES (20240114, 1, '(none)', 2, 2, 8), (20240117, 1, '(none)', 1, 2, 10);
                INSERT INTO mart_daily_sales VALUES (20240114, '2024-01-14', 1, 'retailer_1', 9, 'S', 2, 2, 8, NULL, NULL),
                                                    (20240117, '2024-01-17', 1, 'retailer_1', 9, 'S', 1, 2, 10, NULL, NULL);
                INSERT INTO mart_monthly_category_sales VALUES (2024, 1, 1, 'retailer_1', '(none)', 3, 4, 18);""")
        conn.close()
        apply_migrations(url)
        from tests.fixtures.warehouse import Warehouse

        wh = Warehouse(pg_server, dbname, loader_password)
        assert wh.query("SELECT transaction_id, date_id FROM fact_sales ORDER BY 1") == [("DUP", 20240117), ("ONE", 20240114)]
        assert changes(wh) == [("migration 006_exactly_once", "retailer_1", "DUP", "moved", "2024-01-14", "2024-01-17",
                                1, pytest.approx(5.0))]
        assert_ranges_cover(wh)
        marts_agree(wh)
    finally:
        pg_server.drop_database(dbname)
