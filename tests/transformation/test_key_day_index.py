"""013_fact_sales_key_brin.sql: fact_sales_key finds a window's keys through a BRIN index on
(date_id, retailer_id) instead of a btree (issue 11: the btree cost a second insert per new line,
a third of the exactly-once step). Keys are appended day by day, so block ranges stay narrow and
the window's keys are read from a few blocks, not by scanning all of history."""

from __future__ import annotations

from retail_pipeline.warehouse.sqlfiles import text


def test_the_day_index_of_fact_sales_key_is_brin(warehouse):
    indexes = dict(warehouse.query(
        "SELECT i.relname, am.amname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_am am ON am.oid = i.relam WHERE x.indrelid = 'fact_sales_key'::regclass"))
    assert indexes == {"fact_sales_key_pkey": "btree", "fact_sales_key_day_idx": "brin"}


def test_the_window_keys_are_read_through_it_not_by_scanning_history(warehouse):
    # 60 days of history appended day by day, as loads append them
    warehouse.query("""
        INSERT INTO fact_sales_key (retailer_id, transaction_id, product_id, date_id)
        SELECT 1, 'H-' || d || '-' || g, g % 50, to_char(date '2024-01-01' + d, 'YYYYMMDD')::int
        FROM generate_series(0, 59) d, generate_series(1, 3000) g ORDER BY d, g""")
    warehouse.query("ANALYZE fact_sales_key")
    scope = {"lo": 20240215, "hi": 20240215, "retailer_ids": [1]}
    window = text("keys_check").split("FROM (")[1].split(") k,")[0]  # the window's side of keys_check
    plan = "\n".join(r[0] for r in warehouse.query(f"EXPLAIN {window}", scope))
    assert "fact_sales_key_day_idx" in plan and "Seq Scan" not in plan, plan
    n = warehouse.scalar(f"SELECT n FROM ({window}) k", scope)
    assert n == 3000
