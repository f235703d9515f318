"""Retention removes a retailer's fact_sales_id_range rows of the days before the cutoff (they go
with those days' facts) and keeps the others; the dry run lists exactly what the real run removes,
one row per retailer-day, audited as kind `fact_sales_id_range`. Rows seeded directly by SQL."""

from __future__ import annotations

from datetime import date

from retail_pipeline.retention.config import Settings
from retail_pipeline.retention.run import retention

TODAY = date(2024, 3, 1)   # keep_days 30: the days before 2024-01-31 go


def test_id_ranges_before_the_cutoff_go_per_retailer_day_and_the_rest_stay(warehouse, tmp_path):
    warehouse.query("INSERT INTO dim_retailer (retailer_id, retailer_code, retailer_name) "
                    "VALUES (1, 'retailer_1', 'One'), (2, 'retailer_2', 'Two')")
    warehouse.query("""INSERT INTO fact_sales_id_range (retailer_id, date_id, first_transaction_id, last_transaction_id)
                       VALUES (1, 20240105, 'A-1', 'A-9'), (1, 20240130, 'B-1', 'B-9'), (1, 20240131, 'C-1', 'C-9'),
                              (2, 20240105, 'X-1', 'X-9'), (2, 20240220, 'Y-1', 'Y-9')""")
    settings = Settings(warehouse_con=warehouse.url, raw_zone=str(tmp_path / "zone"))
    expected = [("fact_sales_id_range", "retailer_1", date(2024, 1, 5), 1),
                ("fact_sales_id_range", "retailer_1", date(2024, 1, 30), 1),
                ("fact_sales_id_range", "retailer_2", date(2024, 1, 5), 1)]

    dry = retention(settings, 30, today=TODAY, dry_run=True, backfill_dir=tmp_path)
    assert [(i.kind, i.retailer_code, i.day, i.removed) for i in dry.items] == expected
    assert warehouse.scalar("SELECT count(*) FROM fact_sales_id_range") == 5

    real = retention(settings, 30, today=TODAY, backfill_dir=tmp_path, run_id="retention-ranges")
    assert real.items == dry.items
    assert warehouse.query("SELECT retailer_id, date_id, first_transaction_id, last_transaction_id "
                           "FROM fact_sales_id_range ORDER BY 1, 2") == [
        (1, 20240131, "C-1", "C-9"), (2, 20240220, "Y-1", "Y-9")]
    assert warehouse.query("SELECT kind, retailer_code, day, target, removed FROM retention_audit "
                           "WHERE retention_run_id = 'retention-ranges' ORDER BY retailer_code, day") == [
        (kind, code, day, "fact_sales_id_range", float(n)) for kind, code, day, n in expected]
