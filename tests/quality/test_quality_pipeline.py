"""The quality pipeline on a real PostgreSQL with the real warehouse migrations: each check
fails on purpose and passes on clean data; the gate fails `kedro run` naming the checks."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.quality.conftest import RETAILERS

RUN_DATE = date(2024, 1, 15)   # a Monday; window 2024-01-12 .. 2024-01-15


def run_quality(kedro_project, run_date=RUN_DATE, run_id="dq-test"):
    return kedro_project.run("quality", run_date=run_date.isoformat(), run_id=run_id, lookback_days=3)


def by_check(results, check, retailer=None):
    rows = [r for r in results if r["check_name"] == check and (retailer is None or r["retailer_code"] == retailer)]
    assert rows, f"no {check} result for {retailer}"
    return rows[0] if retailer else rows


def failed(results):
    return {(r["check_name"], r["retailer_code"]) for r in results if not r["passed"]}


def test_clean_warehouse_passes_every_check_and_writes_results_and_report(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    run_quality(kedro_project, run_id="dq-clean")

    results = warehouse.results("dq-clean")
    assert failed(results) == set()
    checks = {r["check_name"] for r in results}
    assert {"volume_rows", "volume_anomaly", "completeness", "business_rule_total_amount",
            "business_rule_positive_quantity", "business_rule_positive_price",
            "business_rule_no_future_date", "business_rule_max_quantity", "business_rule_max_unit_price",
            "business_rule_total_amount_bounds", "business_rule_extra_bounds", "business_rule_money_scale",
            "uniqueness", "fact_id_ranges", "product_versions", "referential_integrity", "freshness",
            "facts_disappeared", "facts_moved", "facts_quarantined", "load_volume_drop",
            "reconciliation_source", "reconciliation_warehouse", "reconciliation_source_ids",
            "reconciliation_warehouse_ids", "quarantine_rate"} == checks
    assert {r["retailer_code"] for r in results} >= set(RETAILERS)
    assert by_check(results, "volume_rows", "retailer_2")["observed"] == 5
    assert by_check(results, "volume_anomaly", "retailer_1")["observed"] == 0  # same volume as prior Mondays
    # the source was read again and its ids compared with the files, day by day, with checksums
    ids = by_check(results, "reconciliation_source_ids", "retailer_3")["details"]["days"]
    assert [d["served_rows"] for d in ids] == [5, 5, 5, 5]
    assert all(d["served_checksum"] == d["landed_checksum"] != "0" for d in ids)

    report = kedro_project.data / "08_reporting" / "dq_report_2024-01-15.html"
    latest = kedro_project.data / "08_reporting" / "dq_report_latest.html"
    html = report.read_text()
    assert latest.read_text() == html
    assert "All checks passed" in html and "data:image/png;base64," in html
    assert "<script" not in html


def test_missing_retailer_is_critical_even_when_the_others_loaded(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE, retailers=[code for code in RETAILERS if code != "retailer_2"])
    # retailer_2 loaded the earlier window days, but nothing for the run date (API sent nothing)
    days = {}
    for n in (3, 2, 1):
        day = RUN_DATE - timedelta(days=n)
        amount = warehouse.add_sales("retailer_2", day, 5)
        warehouse.add_audit("retailer_2", day, 5, amount)
        days[day] = {"rows_written": 5, "total_amount_written": amount}
    days[RUN_DATE] = {"rows_written": 0, "total_amount_written": 0}
    warehouse.write_manifest("retailer_2", RUN_DATE, days)

    with pytest.raises(Exception, match=r"volume_rows \(retailer_2\)") as err:
        run_quality(kedro_project, run_id="dq-missing")
    assert "retailer_1" not in str(err.value).split("\n")[0]
    results = warehouse.results("dq-missing")
    assert failed(results) == {("volume_rows", "retailer_2")}
    row = by_check(results, "volume_rows", "retailer_2")
    assert row["severity"] == "critical" and row["observed"] == 0
    assert "no data loaded for 2024-01-15" in row["details"]["message"]
    # the report was written before the gate failed, and names the check and the retailer
    html = (kedro_project.data / "08_reporting" / "dq_report_latest.html").read_text()
    assert "FAILED" in html and "volume_rows" in html and "retailer_2" in html


def test_broken_total_is_caught_with_the_offending_row(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    warehouse.drop_check_constraints()   # the warehouse refuses such a fact since the sale rules
    warehouse.execute("UPDATE fact_sales SET total_amount = total_amount + 0.02 "
                      "WHERE transaction_id = 'ORD-20240115-1-0003'")

    with pytest.raises(Exception, match="business_rule_total_amount"):
        run_quality(kedro_project, run_id="dq-total")
    results = warehouse.results("dq-total")
    row = by_check(results, "business_rule_total_amount", "retailer_1")
    assert not row["passed"] and row["observed"] == 1
    assert row["details"]["sample"][0]["transaction_id"] == "ORD-20240115-1-0003"
    assert row["details"]["sample"][0]["expected_total"] == 10.5
    # a one-cent difference is within tolerance
    assert by_check(results, "business_rule_total_amount", "retailer_2")["passed"]
    # the money no longer reconciles with the raw zone either
    assert ("reconciliation_warehouse", "retailer_1") in failed(results)
    html = (kedro_project.data / "08_reporting" / "dq_report_2024-01-15.html").read_text()
    assert "ORD-20240115-1-0003" in html


def test_non_positive_quantity_and_future_date_are_caught(warehouse, kedro_project):
    today = date.today()
    run_date = today - timedelta(days=1)
    warehouse.load_clean(run_date, lookback=1, history_weeks=0)
    warehouse.drop_check_constraints()
    warehouse.execute("UPDATE fact_sales SET quantity = -quantity, total_amount = -total_amount "
                      "WHERE transaction_id = %s", (f"ORD-{run_date:%Y%m%d}-3-0000",))
    warehouse.execute("UPDATE fact_sales SET transaction_ts = now() + interval '2 days' "
                      "WHERE transaction_id = %s", (f"ORD-{run_date:%Y%m%d}-2-0001",))
    with pytest.raises(Exception, match="business_rule_positive_quantity"):
        kedro_project.run("quality", run_date=run_date.isoformat(), run_id="dq-rules", lookback_days=1)
    found = failed(warehouse.results("dq-rules"))
    assert ("business_rule_positive_quantity", "retailer_3") in found
    assert ("business_rule_no_future_date", "retailer_2") in found


def test_orphan_keys_are_found_by_query_even_when_the_database_has_foreign_keys(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # Bypass the FK triggers, as a buggy partition swap or a manual fix could.
    warehouse.execute("SET session_replication_role = replica")
    warehouse.execute("UPDATE fact_sales SET customer_id = 999999 WHERE transaction_id = 'ORD-20240114-2-0001'")
    warehouse.execute("UPDATE fact_sales SET store_id = 1003 WHERE transaction_id = 'ORD-20240114-2-0002'")  # retailer_1's store
    warehouse.execute("SET session_replication_role = origin")

    with pytest.raises(Exception, match=r"referential_integrity \(retailer_2\)"):
        run_quality(kedro_project, run_id="dq-orphan")
    results = warehouse.results("dq-orphan")
    row = by_check(results, "referential_integrity", "retailer_2")
    assert row["observed"] == 2
    assert row["details"]["foreign_keys"] == {"customer_id -> dim_customer": 1, "store of another retailer": 1}
    assert failed(results) == {("referential_integrity", "retailer_2")}


def test_duplicate_fact_and_null_in_required_dimension_column(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # the same transaction and product on two days of the window (a late row loaded twice)
    warehouse.execute("""INSERT INTO fact_sales (sale_id, date_id, product_id, customer_id, store_id, retailer_id,
                             transaction_id, quantity, unit_price, total_amount, transaction_ts, run_id)
                         SELECT sale_id + 1, 20240113, product_id, customer_id, store_id, retailer_id,
                                transaction_id, quantity, unit_price, total_amount, transaction_ts, run_id
                         FROM fact_sales WHERE transaction_id = 'ORD-20240114-3-0000'""")
    warehouse.execute("UPDATE dim_product SET product_name = NULL WHERE retailer_id = 1")
    with pytest.raises(Exception) as err:
        run_quality(kedro_project, run_id="dq-dup")
    assert "uniqueness (retailer_3)" in str(err.value) and "completeness (retailer_1)" in str(err.value)
    results = warehouse.results("dq-dup")
    dup = by_check(results, "uniqueness", "retailer_3")["details"]
    assert dup["sample"][0]["transaction_id"] == "ORD-20240114-3-0000"
    assert dup["sample"][0]["days"] == ["2024-01-13", "2024-01-14"]
    assert "ORD-20240114-3-0000 (product 3001) on 2024-01-13, 2024-01-14" in dup["message"]
    assert by_check(results, "completeness", "retailer_1")["details"]["columns"] == {"dim_product.product_name": 1}


def test_stale_retailer_is_a_warning_and_a_backfill_of_an_old_date_is_fresh(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE, retailers=[code for code in RETAILERS if code != "retailer_3"])
    warehouse.load_clean(RUN_DATE, retailers=("retailer_3",), loaded_hours_ago=24 * 5)
    run_quality(kedro_project, run_id="dq-stale")  # a warning does not fail the run
    results = warehouse.results("dq-stale")
    assert failed(results) == {("freshness", "retailer_3")}
    row = by_check(results, "freshness", "retailer_3")
    assert row["severity"] == "warning" and row["observed"] > 119 and row["threshold"] == 36
    assert "stale" in row["details"]["message"]
    # backfill: a month long gone, loaded just now, is fresh (load time, not run date)
    old = date(2023, 6, 14)
    warehouse.load_clean(old, history_weeks=0)
    run_quality(kedro_project, run_date=old, run_id="dq-backfill")
    backfill = warehouse.results("dq-backfill")
    assert all(r["passed"] for r in by_check(backfill, "freshness"))
    html = (kedro_project.data / "08_reporting" / "dq_report_2023-06-14.html").read_text()
    assert "not enough history" in html  # anomaly skipped without prior weeks, but reported


def test_reconciliation_gaps_fail_per_retailer_and_day(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # retailer_1: a fact row vanished on 2024-01-13 (raw says 5, warehouse has 4)
    warehouse.execute("DELETE FROM fact_sales WHERE transaction_id = 'ORD-20240113-1-0004'")
    # retailer_3: the source sent 6 rows on 2024-01-14 but the raw + quarantine zones hold 5
    days = {RUN_DATE - timedelta(days=n): {"rows_written": 5, "total_amount_written": Decimal("52.50")}
            for n in range(4)}
    days[date(2024, 1, 14)]["rows_received"] = 6
    warehouse.write_manifest("retailer_3", RUN_DATE, days)

    with pytest.raises(Exception) as err:
        run_quality(kedro_project, run_id="dq-recon")
    message = str(err.value)
    assert "reconciliation_warehouse (retailer_1)" in message and "reconciliation_source (retailer_3)" in message
    results = warehouse.results("dq-recon")
    # the vanished fact also leaves its id missing; its day's id range, now wider than its facts, is fine
    assert failed(results) == {("reconciliation_warehouse", "retailer_1"), ("reconciliation_warehouse_ids", "retailer_1"),
                               ("reconciliation_source", "retailer_3")}
    assert by_check(results, "reconciliation_warehouse_ids", "retailer_1")["details"]["sample"] == [
        {"sale_date": "2024-01-13", "transaction_id": "ORD-20240113-1-0004", "raw": 1, "warehouse": 0}]
    wh = by_check(results, "reconciliation_warehouse", "retailer_1")
    assert wh["details"]["row_gap"] == 1 and wh["details"]["amount_gap"] == 10.5
    assert "2024-01-13" in wh["details"]["message"]
    assert "2024-01-14" in by_check(results, "reconciliation_source", "retailer_3")["details"]["message"]


def test_raw_zone_file_that_disagrees_with_its_manifest_is_a_source_gap(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # the manifest says 5 rows were written on 2024-01-12, but the partition file holds 4
    warehouse.write_zone("retailer_2", date(2024, 1, 12), 4, Decimal("42.00"))
    with pytest.raises(Exception, match=r"reconciliation_source \(retailer_2\)"):
        run_quality(kedro_project, run_id="dq-file")
    results = warehouse.results("dq-file")
    # and the facts (5 rows) no longer match the raw zone (4 rows) either; by ids, the source
    # serves a row the files lack, and the warehouse holds a fact the raw zone lacks
    assert failed(results) == {("reconciliation_source", "retailer_2"), ("reconciliation_warehouse", "retailer_2"),
                               ("reconciliation_source_ids", "retailer_2"), ("reconciliation_warehouse_ids", "retailer_2")}
    ids = by_check(results, "reconciliation_source_ids", "retailer_2")["details"]
    assert ids["sample"] == [{"sale_date": "2024-01-12", "transaction_id": "ORD-20240112-2-0004",
                              "served": 1, "landed": 0}]
    assert "2024-01-12 (1 served but not landed, 0 landed but not served)" in ids["message"]
    assert "raw files 4 [manifest 5]" in by_check(results, "reconciliation_source", "retailer_2")["details"]["message"]


def test_warehouse_quarantine_counts_in_reconciliation(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # raw holds one more row than the facts: the warehouse quarantined it, with its money
    warehouse.add_warehouse_quarantine("retailer_2", RUN_DATE, "7.00", transaction_id="ORD-20240115-2-0005")
    days = {RUN_DATE - timedelta(days=n): {"rows_written": 5, "total_amount_written": Decimal("52.50")}
            for n in range(4)}
    days[RUN_DATE] = {"rows_written": 6, "total_amount_written": Decimal("59.50")}
    warehouse.write_manifest("retailer_2", RUN_DATE, days)
    run_quality(kedro_project, run_id="dq-wq")
    results = warehouse.results("dq-wq")
    assert by_check(results, "reconciliation_warehouse", "retailer_2")["passed"]
    # 1 of 21 source rows quarantined (4.8 %): above the 2 % warning, below the 20 % critical
    rate = by_check(results, "quarantine_rate", "retailer_2")
    assert not rate["passed"] and rate["severity"] == "warning" and rate["threshold"] == 0.02
    assert failed(results) == {("quarantine_rate", "retailer_2")}


def test_quarantine_spike_is_critical(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    days = {RUN_DATE - timedelta(days=n): {"rows_written": 5, "total_amount_written": Decimal("52.50")}
            for n in range(4)}
    days[RUN_DATE]["rows_quarantined"] = 9   # 9 of 29 source rows in the window: 31 %
    warehouse.write_manifest("retailer_1", RUN_DATE, days)
    with pytest.raises(Exception, match=r"quarantine_rate \(retailer_1\)"):
        run_quality(kedro_project, run_id="dq-spike")
    row = by_check(warehouse.results("dq-spike"), "quarantine_rate", "retailer_1")
    assert row["severity"] == "critical" and row["threshold"] == 0.2 and abs(row["observed"] - 9 / 29) < 1e-4


def test_volume_drop_against_the_same_weekday_is_a_warning(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    for week in range(1, 5):   # prior Mondays of retailer_3 had 5 + 20 rows
        warehouse.add_sales("retailer_3", RUN_DATE - timedelta(weeks=week), 20, prefix="MORE")
    run_quality(kedro_project, run_id="dq-anomaly")
    results = warehouse.results("dq-anomaly")
    assert failed(results) == {("volume_anomaly", "retailer_3")}
    row = by_check(results, "volume_anomaly", "retailer_3")
    assert row["severity"] == "warning" and row["observed"] == 0.8
    assert row["details"]["expected"] == 25
