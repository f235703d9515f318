"""Retention and a retailer's load take turns on the retailer's load lock: while a load holds
it, retention waits (lock_timeout) and, timed out, removes nothing of that retailer."""

from __future__ import annotations

from contextlib import closing
from datetime import date

import psycopg2
import pytest

from retail_pipeline.retention.config import Settings
from retail_pipeline.retention.run import retention


def test_retention_waits_for_the_retailers_load_lock_and_removes_nothing_on_timeout(warehouse, tmp_path):
    warehouse.query("INSERT INTO load_lock (scope) VALUES ('retailer_1') ON CONFLICT DO NOTHING")
    warehouse.query("INSERT INTO warehouse_quarantine (run_id, retailer_code, transaction_id, sale_date, reason, record) "
                    "VALUES ('old-run', 'retailer_1', 'T-1', '2024-01-05', 'missing product', '{}')")
    settings = Settings(warehouse_con=warehouse.url, raw_zone=str(tmp_path / "zone"), lock_timeout="1s")
    with closing(psycopg2.connect(warehouse.dsn)) as load:          # a load of retailer_1 holding its lock
        with load.cursor() as cur:
            cur.execute("SELECT scope FROM load_lock WHERE scope = 'retailer_1' FOR UPDATE")
        with pytest.raises(psycopg2.errors.LockNotAvailable):
            retention(settings, 30, today=date(2024, 3, 1), backfill_dir=tmp_path)
        assert warehouse.scalar("SELECT count(*) FROM warehouse_quarantine") == 1
        assert warehouse.scalar("SELECT count(*) FROM retention_audit") == 0
        load.rollback()
    report = retention(settings, 30, today=date(2024, 3, 1), backfill_dir=tmp_path)
    assert [(i.kind, i.retailer_code, i.day, i.removed) for i in report.items] == [
        ("warehouse_quarantine", "retailer_1", date(2024, 1, 5), 1)]
    assert warehouse.scalar("SELECT count(*) FROM warehouse_quarantine") == 0
    assert warehouse.scalar("SELECT removed_before::text FROM retention_horizon WHERE retailer_code = 'retailer_1'") \
        == "2024-01-31"
