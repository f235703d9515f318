"""015_fact_sales_implied_keys.sql: attaching a day partition validates nothing its own CHECK
constraint already proves (issue 11 §2: ATTACH spent ~0.5 s per 333,000-row day re-reading the
table for its retailer bound and for the date and retailer foreign keys). Still safe: every
fact's date and retailer have their dimension rows (the load writes them, the marts' foreign
keys keep them), and the quality pipeline's referential-integrity query still finds an orphan."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg2
import pytest

from tests.transformation.conftest import sale

DAY = "2024-01-15"
RI_SQL = Path(__file__).resolve().parents[2] / "sql" / "quality" / "referential_integrity.sql"


def load_two_retailers(wh_project) -> None:
    wh_project.raw.write([sale("retailer_1", "ORD-1", "SKU-A", "2024-01-14"),
                          sale("retailer_1", "ORD-2", "SKU-B", DAY),
                          sale("retailer_2", "TXN-1", "SKU-A", DAY, store="S9")])
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-1")


def orphans(wh, start: str, end: str) -> list[tuple]:
    """The quality pipeline's referential-integrity query (sql/quality/referential_integrity.sql)."""
    query = re.sub(r":(window_start|run_date|sample_size)\b", r"%(\1)s", RI_SQL.read_text())
    return [row[:3] for row in wh.query(query, {"window_start": start, "run_date": end, "sample_size": 5})]


def test_day_partitions_carry_their_retailer_and_day_so_attach_reads_nothing(wh_project):
    wh = wh_project.warehouse
    load_two_retailers(wh_project)
    checks = dict(wh.query("""
        SELECT c.conrelid::regclass::text, pg_get_constraintdef(c.oid) FROM pg_constraint c
        JOIN pg_partition_tree('fact_sales') t ON t.relid = c.conrelid
        WHERE t.level = 2 AND c.contype = 'c' AND c.conname LIKE '%\\_bounds'"""))
    assert {"fact_sales_r1_20240115", "fact_sales_r2_20240115"} <= set(checks)
    for name, check in checks.items():  # every retailer's days, empty ones too
        rid, day = re.fullmatch(r"fact_sales_r(\d+)_(\d{8})", name).groups()
        assert check == f"CHECK (((date_id >= {day}) AND (date_id < {int(day) + 1}) AND (retailer_id = {rid})))"
    # the product key is still enforced by the database (021 replaced the customer and store ones:
    # test_member_keys.py)
    keys = {name for name, in wh.query("SELECT conname FROM pg_constraint WHERE conrelid = 'fact_sales'::regclass "
                                       "AND contype = 'f'")}
    assert keys == {"fact_sales_product_id_fkey"}


def test_a_loaded_days_date_and_retailer_rows_cannot_be_deleted(wh_project):
    wh = wh_project.warehouse
    load_two_retailers(wh_project)
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):  # the marts of the day reference it
        wh.query("DELETE FROM dim_date WHERE date_id = 20240115")
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        wh.query("DELETE FROM dim_retailer WHERE retailer_id = 2")


def test_the_referential_integrity_check_still_finds_a_day_or_retailer_without_its_row(wh_project):
    wh = wh_project.warehouse
    load_two_retailers(wh_project)
    assert orphans(wh, "2024-01-14", DAY) == []
    columns = ("sale_id, date_id, product_id, customer_id, store_id, retailer_id, transaction_id, quantity, "
               "unit_price, total_amount, transaction_ts, run_id")
    wh.query("SELECT fact_sales_day_partition(1, 20240116), fact_sales_day_partition(7, 20240115)")
    wh.query(f"INSERT INTO fact_sales ({columns}) SELECT 1, 20240116, product_id, customer_id, store_id, 1, 'NO-DAY', "
             "1, 10, 10, '2024-01-16T12:00:00Z', 'x' FROM fact_sales WHERE transaction_id = 'ORD-2'")
    wh.query(f"INSERT INTO fact_sales ({columns}) SELECT 2, 20240115, product_id, customer_id, store_id, 7, "
             "'NO-RETAILER', 1, 10, 10, '2024-01-15T12:00:00Z', 'x' FROM fact_sales WHERE transaction_id = 'ORD-2'")
    found = orphans(wh, "2024-01-14", "2024-01-16")
    assert ("retailer_1", "date_id -> dim_date", 1) in found
    assert ("retailer_id=7", "retailer_id -> dim_retailer", 1) in found
