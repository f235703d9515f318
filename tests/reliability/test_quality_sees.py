"""Issue 9, "the quality pipeline must see all of the above": each scenario plants what items 2-4
found on a pipeline loaded by the real components (the Flask retailers over loopback, the raw
zone, PostgreSQL), runs the quality pipeline, and expects the right check to fail with its
retailer and day named; then repairs and ends with the accounting check. Item 5's quality part:
a warehouse stopped in the middle of the quality run gives a "could not complete" report and a
last line that names the cause, never a green report left as the latest.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from contextlib import closing

import psycopg2
import pytest
import requests

from retailers.common.registry import RETAILERS
from tests.reliability.accounting import assert_accounted
from tests.fixtures.retailers import api_credentials

RUN_DATE, START = "2024-03-06", "2024-03-05"      # lookback 1: the window is 03-05..03-06
ROWS_PER_DAY = 12


class Scenario:
    """The project wired to the test retailers and a warehouse; helpers to run and to look."""

    def __init__(self, project, warehouse, sources):
        self.project, self.wh, self.sources = project, warehouse, sources

    def load(self, run_date: str = RUN_DATE, run_id: str = "load") -> None:
        self.project.run("ingestion", run_date=run_date, lookback_days=1, run_id=run_id)
        self.project.run("transformation", run_date=run_date, lookback_days=1, run_id=run_id)

    def quality(self, run_id: str, run_date: str = RUN_DATE):
        return self.project.run("quality", run_date=run_date, lookback_days=1, run_id=run_id)

    def results(self, run_id: str) -> dict[tuple[str, str | None], dict]:
        rows = self.wh.query("SELECT check_name, retailer_code, severity, passed, details::text "
                             "FROM dq_check_results WHERE run_id = %s", (run_id,))
        return {(r[0], r[1]): {"severity": r[2], "passed": r[3], "details": json.loads(r[4])} for r in rows}

    def failed(self, run_id: str) -> set[tuple[str, str | None]]:
        return {key for key, r in self.results(run_id).items() if not r["passed"]}

    def latest_report(self) -> str:
        return (self.project.data / "08_reporting" / "dq_report_latest.html").read_text()

    def accounted(self) -> None:
        assert_accounted(raw_root=self.project.data / "01_raw", warehouse_dsn=self.wh.dsn,
                         source_dsns=self.sources, start=START, end=RUN_DATE)

    def source(self, code: str, statement: str, params=None):
        with closing(psycopg2.connect(self.sources[code])) as conn, conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None

    def first_id(self, code: str, day: str) -> str:
        spec = RETAILERS[code]
        return self.source(code, f"SELECT {spec.id_column} FROM {spec.table} WHERE {spec.ts_column} >= %(d)s::date "
                                 f"AND {spec.ts_column} < %(d)s::date + 1 ORDER BY {spec.ts_column}, "
                                 f"{spec.id_column} LIMIT 1", {"d": day})[0][0]


def _wire(project, warehouse, retailer_apis) -> None:
    project.write_yaml("local/credentials.yml", {
        "warehouse": {"con": warehouse.url},
        **{f"{code}_api": api_credentials(api)
           for code, api in retailer_apis.items()},
    })


@pytest.fixture
def scenario(kedro_project, warehouse, retailer_apis, retailer_databases, seed_retailers):
    seed_retailers("2024-03-01", RUN_DATE, rows_per_day=ROWS_PER_DAY, seed=11)
    _wire(kedro_project, warehouse, retailer_apis)
    s = Scenario(kedro_project, warehouse, retailer_databases)
    s.load()
    s.quality("green")
    assert {k for k in s.failed("green") if s.results("green")[k]["severity"] == "critical"} == set()
    return s


def test_item2_a_row_served_but_never_landed_fails_source_ids(scenario):
    s = scenario
    # the source serves a row that is in no zone file (what a paging race lost)
    spec = RETAILERS["retailer_1"]
    lost = "ORD-LOST-000001"
    s.source("retailer_1", f"CREATE TEMP TABLE extra AS SELECT * FROM {spec.table} WHERE {spec.id_column} = %s; "
                           f"UPDATE extra SET {spec.id_column} = %s; INSERT INTO {spec.table} SELECT * FROM extra",
             (s.first_id("retailer_1", "2024-03-05"), lost))
    # and a row of retailer_3 vanishes from its raw zone file after ingestion
    path = s.project.data / "01_raw" / "raw" / "retailer_3" / "year=2024" / "month=03" / "day=06" / "sales_data.json"
    lines = path.read_text().splitlines()
    dropped = json.loads(lines[0])["transaction_id"]
    path.write_text("\n".join(lines[1:]) + "\n")

    with pytest.raises(Exception, match=r"reconciliation_source_ids \(retailer_1\)"):
        s.quality("lost")
    failed = s.failed("lost")
    assert {("reconciliation_source_ids", "retailer_1"), ("reconciliation_source_ids", "retailer_3")} <= failed
    r1 = s.results("lost")[("reconciliation_source_ids", "retailer_1")]["details"]
    assert r1["sample"] == [{"sale_date": "2024-03-05", "transaction_id": lost, "served": 1, "landed": 0}]
    assert "retailer_1" in r1["message"] and "2024-03-05 (1 served but not landed" in r1["message"]
    r3 = s.results("lost")[("reconciliation_source_ids", "retailer_3")]["details"]
    assert r3["sample"][0]["transaction_id"] == dropped and r3["sample"][0]["sale_date"] == "2024-03-06"
    # the raw zone no longer holds what the warehouse loaded from it, by ids too
    assert ("reconciliation_warehouse_ids", "retailer_3") in failed

    s.load(run_id="repair")          # a rerun of the window is the repair
    s.quality("repaired")
    assert not {k for k in s.failed("repaired") if s.results("repaired")[k]["severity"] == "critical"}
    s.accounted()


def test_item3_a_line_on_two_days_fails_uniqueness(scenario):
    s = scenario
    s.load(run_date="2024-03-02", run_id="older")   # an older window: its day partitions exist
    # the loader role copies a 03-06 line of retailer_2 into the partition of 03-01
    txn = s.wh.query("SELECT f.transaction_id FROM fact_sales f JOIN dim_retailer r USING (retailer_id) "
                     "WHERE r.retailer_code = 'retailer_2' AND f.date_id = 20240306 ORDER BY 1 LIMIT 1")[0][0]
    s.wh.query("""INSERT INTO fact_sales_r2_20240301 (sale_id, date_id, product_id, customer_id, store_id, retailer_id,
                      transaction_id, quantity, unit_price, total_amount, discount_percentage, tax_amount,
                      shipping_cost, transaction_ts, run_id)
                  SELECT sale_id, 20240301, product_id, customer_id, store_id, retailer_id, transaction_id,
                         quantity, unit_price, total_amount, discount_percentage, tax_amount, shipping_cost,
                         transaction_ts - interval '5 days', 'planted'
                  FROM fact_sales WHERE date_id = 20240306 AND transaction_id = %s""", (txn,))
    with pytest.raises(Exception, match=r"uniqueness \(retailer_2\)"):
        s.quality("twice")
    row = s.results("twice")[("uniqueness", "retailer_2")]
    assert row["severity"] == "critical"
    assert row["details"]["sample"][0]["transaction_id"] == txn
    assert row["details"]["sample"][0]["days"] == ["2024-03-01", "2024-03-06"]
    assert f"{txn} (product " in row["details"]["message"] and "on 2024-03-01, 2024-03-06" in row["details"]["message"]

    s.wh.query("DELETE FROM fact_sales_r2_20240301 WHERE run_id = 'planted'")
    s.quality("unique")
    assert ("uniqueness", "retailer_2") not in s.failed("unique")
    s.accounted()


def test_item4_facts_that_disappeared_at_the_source_are_reported(scenario):
    s = scenario
    spec = RETAILERS["retailer_2"]
    gone = s.first_id("retailer_2", "2024-03-05")
    s.source("retailer_2", f"DELETE FROM {spec.table} WHERE {spec.id_column} = %s", (gone,))
    s.load(run_id="after-delete")
    s.quality("gone")   # a warning by default: the run succeeds
    row = s.results("gone")[("facts_disappeared", "retailer_2")]
    assert row["severity"] == "warning" and not row["passed"]
    assert row["details"]["facts"] == 1 and row["details"]["days"][0]["from_date"] == "2024-03-05"
    assert [x["transaction_id"] for x in row["details"]["sample"]] == [gone.strip()]
    assert "retailer_2" in row["details"]["message"] and "2024-03-05" in row["details"]["message"]
    assert "facts_disappeared" in s.latest_report()
    # reported by the run after the load that recorded it, not forever after
    s.load(run_id="next-load")
    s.quality("next")
    assert s.results("next")[("facts_disappeared", "retailer_2")]["passed"]
    s.accounted()


def test_item4_a_day_whose_load_dropped_by_80_percent_warns(scenario):
    s = scenario
    (rows, loaded_at), = s.wh.query(
        "SELECT rows_loaded, loaded_at FROM load_audit WHERE retailer_code = 'retailer_1' AND sale_date = '2024-03-05' "
        "ORDER BY loaded_at DESC LIMIT 1")
    # the previous load of that day had five times the facts: the latest one dropped by 80 %
    s.wh.query("INSERT INTO load_audit (run_id, retailer_code, sale_date, rows_loaded, total_amount_loaded, "
               "rows_quarantined, loaded_at) VALUES ('bigger-load', 'retailer_1', '2024-03-05', %s, 0, 0, %s)",
               (rows * 5, loaded_at - dt.timedelta(hours=24)))
    s.quality("dropped")
    row = s.results("dropped")[("load_volume_drop", "retailer_1")]
    assert row["severity"] == "warning" and not row["passed"]
    assert f"2024-03-05 ({rows * 5} -> {rows} facts, -80%)" in row["details"]["message"]
    assert s.failed("dropped") - {("load_volume_drop", "retailer_1")} <= {
        (c, r) for (c, r), v in s.results("dropped").items() if v["severity"] != "critical"}
    s.accounted()


def test_item5_warehouse_stopped_mid_quality_run_gives_a_could_not_complete_report(
        crashable_pg, kedro_project, retailer_apis, retailer_databases, seed_retailers, retailer_faults):
    seed_retailers("2024-03-01", RUN_DATE, rows_per_day=ROWS_PER_DAY, seed=12)
    wh = crashable_pg.warehouse("dq_crash")
    _wire(kedro_project, wh, retailer_apis)
    s = Scenario(kedro_project, wh, retailer_databases)
    s.load()
    s.quality("green")
    assert "All checks passed" in s.latest_report() or "Passed with" in s.latest_report()

    # the warehouse is SIGKILLed while the quality run re-reads retailer_1's source (held by
    # the latency knob), i.e. after some checks ran and before the others
    api = retailer_apis["retailer_1"]
    retailer_faults("retailer_1", latency_ms=1500)
    baseline = requests.get(f"{api['base_url']}/_admin/faults", timeout=5).json()["requests"]
    crashable_pg.arm()
    crashed = threading.Event()

    def crash_when_reread() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not crashed.is_set():
            if requests.get(f"{api['base_url']}/_admin/faults", timeout=5).json()["requests"] > baseline:
                crashable_pg.crash()
                crashed.set()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=crash_when_reread, daemon=True)
    killer.start()
    try:
        with pytest.raises(Exception) as err:
            s.quality("crashed")
    finally:
        crashed.set()
        killer.join(timeout=30)
        assert not killer.is_alive()
    assert crashable_pg.crashes == 1, "the warehouse was not stopped during the quality run"
    notes = getattr(err.value, "__notes__", [])
    assert notes, "the failed run does not say the checks could not complete"
    assert notes[-1].startswith("Data-quality checks could not complete for run_date 2024-03-06: dq_")
    assert "Report: " in notes[-1]
    html = s.latest_report()
    assert "CHECKS COULD NOT COMPLETE" in html and "All checks passed" not in html
    assert html == (kedro_project.data / "08_reporting" / "dq_report_2024-03-06.html").read_text()

    crashable_pg.restart()
    retailer_faults("retailer_1", latency_ms=0)
    s.quality("after-restart")    # the rerun is the repair
    assert "CHECKS COULD NOT COMPLETE" not in s.latest_report()
    assert not {k for k in s.failed("after-restart") if s.results("after-restart")[k]["severity"] == "critical"}
    s.accounted()
