"""The checks that see what issue 9 found: a line on two days, a day's id range that does not
cover its facts (fact_sales_id_range, which the loader's duplicate guard relies on), facts
that disappeared, a day whose load shrank, and rows lost or doubled that counts cannot see
(ids compared between the source, the zone files and the warehouse). Real PostgreSQL, the real
retailer APIs, warehouse state built directly by SQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.quality.conftest import fact_id
from tests.quality.test_quality_pipeline import RUN_DATE, by_check, failed, run_quality


def test_a_line_on_an_old_day_outside_the_window_fails_uniqueness(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # The same transaction and product on a day long before the window: the window-only check
    # of before passed this; only history shows it.
    old = date(2024, 1, 2)
    warehouse.add_day(old)
    warehouse.execute("""INSERT INTO fact_sales (sale_id, date_id, product_id, customer_id, store_id, retailer_id,
                             transaction_id, quantity, unit_price, total_amount, transaction_ts, run_id)
                         SELECT sale_id + 1, 20240102, product_id, customer_id, store_id, retailer_id,
                                transaction_id, quantity, unit_price, total_amount, transaction_ts - interval '12 days',
                                'old-run'
                         FROM fact_sales WHERE transaction_id = 'ORD-20240114-2-0001'""")
    with pytest.raises(Exception, match=r"uniqueness \(retailer_2\)"):
        run_quality(kedro_project, run_id="dq-history")
    results = warehouse.results("dq-history")
    assert failed(results) == {("uniqueness", "retailer_2")}
    row = by_check(results, "uniqueness", "retailer_2")
    assert row["severity"] == "critical" and row["observed"] == 1
    assert row["details"]["sample"][0]["days"] == ["2024-01-02", "2024-01-14"]
    assert "ORD-20240114-2-0001 (product 2001) on 2024-01-02, 2024-01-14" in row["details"]["message"]


def test_a_transaction_on_an_old_day_with_another_product_fails_uniqueness(warehouse, kedro_project):
    """A transaction is one line whatever its product: a corrected product on another day is
    still the same transaction twice (no per-line ledger says so any more; this check does)."""
    warehouse.load_clean(RUN_DATE)
    warehouse.add_day(date(2024, 1, 2))
    warehouse.execute("""INSERT INTO fact_sales (sale_id, date_id, product_id, customer_id, store_id, retailer_id,
                             transaction_id, quantity, unit_price, total_amount, transaction_ts, run_id)
                         SELECT f.sale_id + 1, 20240102,
                                (SELECT min(p.product_id) FROM dim_product p WHERE p.product_id <> f.product_id),
                                f.customer_id, f.store_id, f.retailer_id, f.transaction_id, f.quantity,
                                f.unit_price, f.total_amount, f.transaction_ts - interval '12 days', 'old-run'
                         FROM fact_sales f WHERE f.transaction_id = 'ORD-20240114-2-0001'""")
    assert warehouse.execute("SELECT count(DISTINCT product_id) FROM fact_sales "
                             "WHERE transaction_id = 'ORD-20240114-2-0001'") == [(2,)]
    with pytest.raises(Exception, match=r"uniqueness \(retailer_2\)"):
        run_quality(kedro_project, run_id="dq-history-product")
    row = by_check(warehouse.results("dq-history-product"), "uniqueness", "retailer_2")
    assert row["observed"] == 1 and row["details"]["sample"][0]["days"] == ["2024-01-02", "2024-01-14"]


def test_a_window_day_without_its_id_range_fails_fact_id_ranges(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # a load would never look at retailer_1's 2024-01-14 for a line already there
    warehouse.execute("DELETE FROM fact_sales_id_range WHERE retailer_id = 1 AND date_id = 20240114")
    with pytest.raises(Exception, match=r"fact_id_ranges \(retailer_1\)"):
        run_quality(kedro_project, run_id="dq-range-missing")
    results = warehouse.results("dq-range-missing")
    assert failed(results) == {("fact_id_ranges", "retailer_1")}
    row = by_check(results, "fact_id_ranges", "retailer_1")
    assert row["severity"] == "critical" and row["observed"] == 1
    assert row["details"]["problems"] == {"missing_range": 1}
    assert row["details"]["sample"] == [{
        "problem": "missing_range", "date_id": 20240114, "day": "2024-01-14", "facts": 5,
        "min_transaction_id": "ORD-20240114-1-0000", "max_transaction_id": "ORD-20240114-1-0004",
        "first_transaction_id": None, "last_transaction_id": None}]
    assert "1 day(s) with facts and no range row" in row["details"]["message"]
    assert "2024-01-14" in row["details"]["message"]


def test_an_id_range_narrower_than_its_facts_fails_fact_id_ranges(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # retailer_2: the 13th's range misses its lowest id, the 15th's its highest
    warehouse.execute("UPDATE fact_sales_id_range SET first_transaction_id = 'ORD-20240113-2-0001' "
                      "WHERE retailer_id = 2 AND date_id = 20240113")
    warehouse.execute("UPDATE fact_sales_id_range SET last_transaction_id = 'ORD-20240115-2-0003' "
                      "WHERE retailer_id = 2 AND date_id = 20240115")
    with pytest.raises(Exception, match=r"fact_id_ranges \(retailer_2\)"):
        run_quality(kedro_project, run_id="dq-range-narrow")
    results = warehouse.results("dq-range-narrow")
    assert failed(results) == {("fact_id_ranges", "retailer_2")}
    row = by_check(results, "fact_id_ranges", "retailer_2")
    assert row["severity"] == "critical" and row["observed"] == 2
    assert row["details"]["problems"] == {"range_too_narrow": 2}
    assert [(s["day"], s["min_transaction_id"], s["max_transaction_id"], s["first_transaction_id"],
             s["last_transaction_id"]) for s in row["details"]["sample"]] == [
        ("2024-01-13", "ORD-20240113-2-0000", "ORD-20240113-2-0004", "ORD-20240113-2-0001", "ORD-20240113-2-0004"),
        ("2024-01-15", "ORD-20240115-2-0000", "ORD-20240115-2-0004", "ORD-20240115-2-0000", "ORD-20240115-2-0003")]
    assert "2 day(s) with ids outside their range (e.g. on 2024-01-13, 2024-01-15)" in row["details"]["message"]
    assert by_check(results, "fact_id_ranges", "retailer_1")["details"]["message"] == (
        "fact_sales_id_range covers every window day's transaction ids")


def test_a_wider_id_range_and_a_range_of_a_day_without_facts_pass(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # wider than the facts: a line moved out keeps its old day's range (the day is read once more)
    warehouse.execute("UPDATE fact_sales_id_range SET first_transaction_id = 'A', last_transaction_id = 'Z' "
                      "WHERE retailer_id = 3 AND date_id = 20240114")
    # every fact of retailer_1's 2024-01-13 gone, its range row left behind (other checks see the loss)
    warehouse.execute("DELETE FROM fact_sales WHERE retailer_id = 1 AND date_id = 20240113")
    with pytest.raises(Exception, match=r"reconciliation_warehouse \(retailer_1\)") as err:
        run_quality(kedro_project, run_id="dq-range-wide")
    assert "fact_id_ranges" not in str(err.value)
    results = warehouse.results("dq-range-wide")
    assert {r["retailer_code"] for r in by_check(results, "fact_id_ranges") if r["passed"]} >= {
        "retailer_1", "retailer_2", "retailer_3"}
    assert not [r for r in by_check(results, "fact_id_ranges") if not r["passed"]]


def _change(warehouse, code, kind, txn, from_date, run_id="test-run", to_date=None, amount="10.50"):
    warehouse.execute(
        """INSERT INTO fact_sales_changes (run_id, retailer_code, transaction_id, product_id, change_kind,
               from_date, to_date, quantity, total_amount)
           VALUES (%s, %s, %s, %s, %s, %s, %s, 2, %s)""",
        (run_id, code, txn, 3001, kind, from_date, to_date, amount))


def test_facts_that_disappeared_since_the_last_load_warn_with_counts_money_and_sample(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    day = date(2024, 1, 13)
    for n in range(3):   # the latest load of 2024-01-13 removed three facts the source no longer serves
        _change(warehouse, "retailer_3", "disappeared", fact_id("retailer_3", day, 90 + n), day)
    _change(warehouse, "retailer_3", "moved", "ORD-20240101-3-0007", date(2024, 1, 1), to_date=day)
    # recorded by an earlier load, already reported by an earlier run: not again
    warehouse.add_audit("retailer_3", day, 5, 52.5, hours_ago=30, run_id="old-run")
    _change(warehouse, "retailer_3", "disappeared", "ORD-20240113-3-0099", day, run_id="old-run")

    run_quality(kedro_project, run_id="dq-gone")   # a warning: the run succeeds
    results = warehouse.results("dq-gone")
    assert failed(results) == {("facts_disappeared", "retailer_3")}
    row = by_check(results, "facts_disappeared", "retailer_3")
    assert row["severity"] == "warning" and row["observed"] == 3 and row["threshold"] == 0
    assert row["details"]["total_amount"] == 31.5
    assert row["details"]["days"][0]["from_date"] == "2024-01-13" and row["details"]["days"][0]["facts"] == 3
    assert [s["transaction_id"] for s in row["details"]["sample"]] == [
        "ORD-20240113-3-0090", "ORD-20240113-3-0091", "ORD-20240113-3-0092"]
    assert "3 facts of retailer_3 (31.50) disappeared from the source" in row["details"]["message"]
    assert "2024-01-13 (3 facts, 31.50)" in row["details"]["message"]
    moved = by_check(results, "facts_moved", "retailer_3")
    assert moved["severity"] == "info" and moved["passed"] and moved["observed"] == 1
    assert moved["details"]["sample"][0]["to_date"] == "2024-01-13"
    html = (kedro_project.data / "08_reporting" / "dq_report_latest.html").read_text()
    assert "facts_disappeared" in html and "ORD-20240113-3-0091" in html


def test_a_day_whose_load_dropped_sharply_against_its_previous_load_warns(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # 2024-01-13 of retailer_1 had 25 facts at the previous load, 5 at the latest: -80 %
    warehouse.add_audit("retailer_1", date(2024, 1, 13), 25, 262.5, hours_ago=25, run_id="prev-run")
    warehouse.add_audit("retailer_2", date(2024, 1, 13), 8, 84, hours_ago=25, run_id="prev-run")   # -37.5 %: fine
    run_quality(kedro_project, run_id="dq-drop")
    results = warehouse.results("dq-drop")
    assert failed(results) == {("load_volume_drop", "retailer_1")}
    row = by_check(results, "load_volume_drop", "retailer_1")
    assert row["severity"] == "warning" and row["observed"] == 0.8 and row["threshold"] == 0.5
    assert "2024-01-13 (25 -> 5 facts, -80%)" in row["details"]["message"]
    assert row["details"]["sample"] == [d for d in row["details"]["days"] if d["sale_date"] == "2024-01-13"]
    assert by_check(results, "load_volume_drop", "retailer_2")["observed"] == 0.375


def test_volume_drop_threshold_and_severity_are_parameters(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    warehouse.add_audit("retailer_2", date(2024, 1, 13), 8, 84, hours_ago=25, run_id="prev-run")   # -37.5 %
    params = kedro_project.conf / "base" / "parameters_quality.yml"
    params.write_text(params.read_text().replace(
        "      severity: warning\n      max_drop: 0.5", "      severity: critical\n      max_drop: 0.3"))
    with pytest.raises(Exception, match=r"load_volume_drop \(retailer_2\)"):
        run_quality(kedro_project, run_id="dq-drop-param")


def test_a_row_the_source_serves_that_never_landed_fails_by_id_while_counts_agree(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    day = date(2024, 1, 14)
    # served now, in none of the zone files (lost while paging, say); the manifest and the
    # files agree with each other, so the count reconciliation cannot see it
    warehouse.serve("retailer_1", day, warehouse.served_ids("retailer_1", day) + ["ORD-20240114-1-0777"])
    with pytest.raises(Exception, match=r"reconciliation_source_ids \(retailer_1\)") as err:
        run_quality(kedro_project, run_id="dq-lost")
    assert "reconciliation_source (retailer_1)" not in str(err.value)
    results = warehouse.results("dq-lost")
    assert failed(results) == {("reconciliation_source_ids", "retailer_1")}
    row = by_check(results, "reconciliation_source_ids", "retailer_1")
    assert row["severity"] == "critical" and row["observed"] == 1
    assert row["details"]["sample"] == [{"sale_date": "2024-01-14", "transaction_id": "ORD-20240114-1-0777",
                                         "served": 1, "landed": 0}]
    assert "2024-01-14 (1 served but not landed, 0 landed but not served)" in row["details"]["message"]
    days = {d["sale_date"]: d for d in row["details"]["days"]}
    assert days["2024-01-14"]["served_checksum"] != days["2024-01-14"]["landed_checksum"]
    assert days["2024-01-13"]["served_checksum"] == days["2024-01-13"]["landed_checksum"]


def test_one_row_lost_and_another_doubled_cancel_out_in_counts_but_not_in_ids(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    day = date(2024, 1, 13)
    served = warehouse.served_ids("retailer_2", day)
    # the zone holds one id twice (one in raw, one in quarantine) and lacks another: 5 = 5
    ids = served[:-1] + [served[0]]
    warehouse.write_zone("retailer_2", day, 4, 42, ids=ids[:4])
    warehouse.write_zone("retailer_2", day, 1, 1, zone="quarantine", ids=[served[0]])
    with pytest.raises(Exception, match=r"reconciliation_source_ids \(retailer_2\)"):
        run_quality(kedro_project, run_id="dq-swap")
    results = warehouse.results("dq-swap")
    row = by_check(results, "reconciliation_source_ids", "retailer_2")
    assert row["observed"] == 2
    assert {(s["transaction_id"], s["served"], s["landed"]) for s in row["details"]["sample"]} == {
        (served[-1], 1, 0), (served[0], 1, 2)}


def test_warehouse_ids_that_differ_from_the_raw_zone_with_equal_counts_and_money(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # a fact that is not the raw record it stands for: same money, same count, another id
    warehouse.execute("UPDATE fact_sales SET transaction_id = 'GHOST-1' WHERE transaction_id = 'ORD-20240112-3-0004'")
    warehouse.set_range(3, 20240112)   # its day's id range follows, as a load's would
    with pytest.raises(Exception, match=r"reconciliation_warehouse_ids \(retailer_3\)"):
        run_quality(kedro_project, run_id="dq-ghost")
    results = warehouse.results("dq-ghost")
    assert failed(results) == {("reconciliation_warehouse_ids", "retailer_3")}
    row = by_check(results, "reconciliation_warehouse_ids", "retailer_3")
    assert row["details"]["sample"] == [
        {"sale_date": "2024-01-12", "transaction_id": "ORD-20240112-3-0004", "raw": 1, "warehouse": 0},
        {"sale_date": "2024-01-12", "transaction_id": "GHOST-1", "raw": 0, "warehouse": 1}]
    day = next(d for d in row["details"]["days"] if d["sale_date"] == "2024-01-12")
    assert day["fact_rows"] == 5 and day["raw_rows"] == 5 and day["raw_checksum"] != day["warehouse_checksum"]


def test_huge_amounts_in_the_warehouse_do_not_stop_the_checks(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # a quarantined record whose amount is a huge text (what crashed the quality SQL with
    # `numeric field overflow`), and money sums far beyond any numeric(p, s) the old SQL cast to
    warehouse.add_warehouse_quarantine("retailer_2", RUN_DATE, "9" * 25 + ".99", reason="total_amount out of bounds",
                                       transaction_id="ORD-20240115-2-0005")
    raw = warehouse.served_ids("retailer_2", RUN_DATE) + ["ORD-20240115-2-0005"]
    warehouse.write_zone("retailer_2", RUN_DATE, 6, 52.5 + 10 ** 25, ids=raw)
    warehouse.serve("retailer_2", RUN_DATE, raw)
    manifest = {RUN_DATE - timedelta(days=n): {"rows_written": 5, "total_amount_written": 52.5} for n in range(1, 4)}
    manifest[RUN_DATE] = {"rows_written": 6, "total_amount_written": 52.5 + 10 ** 25}
    warehouse.write_manifest("retailer_2", RUN_DATE, manifest, files=False)
    # the checks complete and give a verdict (raw money held as float cannot match such a sum
    # to the cent), not a crash of their SQL
    with pytest.raises(Exception, match=r"failed for run_date 2024-01-15: reconciliation_warehouse \(retailer_2\)") as err:
        run_quality(kedro_project, run_id="dq-huge")
    assert "could not complete" not in str(err.value) + "".join(getattr(err.value, "__notes__", []))
    results = warehouse.results("dq-huge")
    assert {r["check_name"] for r in results} >= {"reconciliation_warehouse", "business_rule_total_amount"}
    assert "quality_checks_completed" not in {r["check_name"] for r in results}
    row = by_check(results, "reconciliation_warehouse", "retailer_2")
    day = next(d for d in row["details"]["days"] if d["sale_date"] == "2024-01-15")
    assert day["warehouse_quarantined_rows"] == 1 and day["warehouse_quarantined_amount"] > 9.9e24
