"""The new checks as pure functions on small frames: ids and their checksums, the source re-read
filed as ingestion files it, what the loads removed, a day's volume drop, and the failure page."""

from __future__ import annotations

import hashlib
import json
from contextlib import closing

import pandas as pd
import pytest
import yaml

from retail_pipeline.pipelines.quality import nodes
from retail_pipeline.pipelines.quality.id_checks import _compare
from retail_pipeline.quality import failure
from tests.fixtures.kedro_project import PROJECT_ROOT
from tests.fixtures.kedro_project import RETAILERS as REGISTRY

PARAMS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_quality.yml").read_text())["quality"]
RETAILER_1 = {**REGISTRY["retailer_1"], "code": "retailer_1"}  # as params:retailers.retailer_1
RUN_DATE = "2024-01-15"


def ids(*pairs) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["sale_date", "transaction_id"])


def landed(raw, quarantine=()) -> pd.DataFrame:
    return pd.concat([ids(*raw).assign(zone="raw"), ids(*quarantine).assign(zone="quarantine")], ignore_index=True)


def day_checksum(values: list[str]) -> str:
    """The check's checksum of one day's ids (counted by DuckDB, sql/quality/ids/by_day.sql)."""
    _, summary, _ = _compare(ids(*[("2024-01-15", v) for v in values]), None, ("a", "b"), ["2024-01-15"], 0)
    return summary[0]["a_checksum"]


def test_the_id_checksum_is_the_sql_one_and_ignores_order(pg_server):
    values = ["ORD-20240115-000001", " spaced ", "Ünïcödé-✓", "", "x" * 300, "ORD-20240115-000001"]
    with closing(pg_server.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT sum(('x' || left(md5(v), 15))::bit(60)::bigint) FROM unnest(%s::text[]) AS v",
                    (values,))
        expected = str(cur.fetchone()[0])
    assert day_checksum(values) == expected == day_checksum(list(reversed(values)))
    assert day_checksum([]) == "0" and day_checksum(["a"]) != day_checksum(["b"])
    one = int(hashlib.md5(b"ORD-1").hexdigest()[:15], 16)
    assert int(day_checksum(["ORD-1"] * 20_000)) == 20_000 * one > 2**63  # exact past 64 bits (a HUGEINT sum)


def test_source_ids_are_trimmed_and_dated_as_ingestion_files_them():
    served = pd.DataFrame({
        "order_id": [" ORD-1 ", "ORD-2", "ORD-3", "ORD-4", None],
        "order_date": ["2024-01-14T10:00:00", "2024-01-15T23:59:59", "2024-01-02T08:00:00", "garbage",
                       "2024-01-13T00:00:00"],
        "customer_id": "C", "store_id": "S", "sku": "SKU", "product_name": "W", "category": "T",
        "quantity": 1, "price": 1.0, "total": 1.0, "discount_percentage": 0.0,
        "source_page": 1, "source_record": "{}",
    })
    out = pd.concat(nodes.source_ids(served, RETAILER_1, RUN_DATE, 3))  # a generator node
    # outside the window or without a date: filed on the run date (in quarantine), as ingestion does
    assert list(zip(out["sale_date"], out["transaction_id"])) == [
        ("2024-01-14", "ORD-1"), ("2024-01-15", "ORD-2"), ("2024-01-15", "ORD-3"), ("2024-01-15", "ORD-4"),
        ("2024-01-13", "")]


def test_source_ids_check_names_the_retailer_the_day_and_the_ids():
    served = ids(("2024-01-14", "A"), ("2024-01-14", "B"), ("2024-01-15", "C"), ("2024-01-15", "D"))
    files = landed(raw=[("2024-01-14", "A"), ("2024-01-15", "C")],
                   quarantine=[("2024-01-15", "D"), ("2024-01-15", "D")])
    out = nodes.check_source_ids(PARAMS, RUN_DATE, 3, retailer_1__served=served, retailer_1__landed=files,
                                 retailer_2__served=ids(), retailer_2__landed=landed([]))
    r1, r2 = out.iloc[0], out.iloc[1]
    assert (r1["retailer_code"], r1["check_name"], r1["severity"], bool(r1["passed"]), r1["observed"]) == (
        "retailer_1", "reconciliation_source_ids", "critical", False, 2)
    assert r1["details"]["sample"] == [
        {"sale_date": "2024-01-14", "transaction_id": "B", "served": 1, "landed": 0},
        {"sale_date": "2024-01-15", "transaction_id": "D", "served": 1, "landed": 2}]
    days = {d["sale_date"]: d for d in r1["details"]["days"]}
    assert days["2024-01-14"]["served_not_landed"] == 1 and days["2024-01-15"]["landed_not_served"] == 1
    assert days["2024-01-12"]["served_rows"] == 0 and days["2024-01-12"]["served_checksum"] == "0"
    assert "2024-01-14 (1 served but not landed, 0 landed but not served)" in r1["details"]["message"]
    assert bool(r2["passed"]) and r2["observed"] == 0


def test_warehouse_ids_check_compares_raw_ids_with_facts_plus_warehouse_quarantine():
    files = landed(raw=[("2024-01-15", "A"), ("2024-01-15", "B"), ("2024-01-15", "C")],
                   quarantine=[("2024-01-15", "Q")])   # ingestion quarantine: not the warehouse's business
    warehouse = pd.DataFrame({"retailer_code": "retailer_3", "sale_date": pd.to_datetime(["2024-01-15"] * 3).date,
                              "transaction_id": ["A", "B", "B"], "place": ["fact", "fact", "warehouse_quarantine"]})
    row = nodes.check_warehouse_ids(warehouse, PARAMS, RUN_DATE, 3, retailer_3__landed=files).iloc[0]
    assert not row["passed"] and row["observed"] == 2
    assert row["details"]["sample"] == [
        {"sale_date": "2024-01-15", "transaction_id": "C", "raw": 1, "warehouse": 0},
        {"sale_date": "2024-01-15", "transaction_id": "B", "raw": 1, "warehouse": 2}]
    day = row["details"]["days"][-1]
    assert (day["fact_rows"], day["warehouse_quarantine_rows"], day["raw_rows"]) == (2, 1, 3)


def test_fact_changes_count_money_days_and_severity_from_parameters():
    changes = pd.DataFrame([
        {"retailer_code": "retailer_2", "change_kind": "disappeared", "from_date": "2024-01-13", "changes": 1935,
         "quantity": 3870, "total_amount": "20317.50", "run_ids": "r9", "to_dates": None,
         "sample": json.dumps([{"transaction_id": "TXN-1"}, {"transaction_id": "TXN-2"}])},
        {"retailer_code": "retailer_2", "change_kind": "moved", "from_date": "2024-01-02", "changes": 1,
         "quantity": 1, "total_amount": "5.00", "run_ids": "r9", "to_dates": "2024-01-14",
         "sample": json.dumps([{"transaction_id": "TXN-9", "to_date": "2024-01-14"}])},
    ])
    out = nodes.check_fact_changes(changes, {"retailer_1": {}, "retailer_2": {}}, PARAMS)
    got = {(r.retailer_code, r.check_name): r for r in out.itertuples()}
    gone = got[("retailer_2", "facts_disappeared")]
    assert (gone.severity, gone.passed, gone.observed, gone.threshold) == ("warning", False, 1935, 0)
    assert gone.details["total_amount"] == 20317.5 and gone.details["days"][0]["from_date"] == "2024-01-13"
    assert "1,935 facts of retailer_2 (20,317.50) disappeared" in gone.details["message"]
    moved = got[("retailer_2", "facts_moved")]
    assert (moved.severity, moved.passed, moved.observed) == ("info", True, 1)
    assert got[("retailer_1", "facts_disappeared")].passed
    strict = {**PARAMS, "checks": {**PARAMS["checks"], "facts_disappeared": {"severity": "critical", "max_facts": 5000}}}
    assert nodes.check_fact_changes(changes, {}, strict).iloc[0]["passed"]


@pytest.mark.parametrize("previous, latest, passed", [(100, 51, True), (100, 49, False), (None, 0, True), (0, 0, True)])
def test_load_volume_drop_compares_a_day_with_its_previous_load(previous, latest, passed):
    history = pd.DataFrame([{"retailer_code": "retailer_1", "sale_date": "2024-01-13", "run_id": "r2",
                             "rows_loaded": latest, "rows_quarantined": 0, "loaded_at": "t2",
                             "previous_run_id": "r1" if previous is not None else None,
                             "previous_rows_loaded": previous, "previous_loaded_at": "t1"}])
    row = nodes.check_load_volume_drop(history, {}, PARAMS).iloc[0]
    assert bool(row["passed"]) is passed and row["threshold"] == 0.5
    if not passed:
        assert "2024-01-13 (100 -> 49 facts, -51%)" in row["details"]["message"]


def test_uniqueness_names_every_day_a_line_is_on():
    dup = pd.DataFrame([{"retailer_code": "retailer_1", "duplicate_keys": 1, "extra_rows": 1, "transaction_id": "T1",
                         "product_id": 7, "copies": 2, "first_date_id": 20231201, "last_date_id": 20240115,
                         "date_ids": "20231201,20240115"}])
    row = nodes.check_uniqueness(dup, {"retailer_1": {}}, PARAMS).iloc[0]
    assert not row["passed"] and row["details"]["sample"][0]["days"] == ["2023-12-01", "2024-01-15"]
    assert "T1 (product 7) on 2023-12-01, 2024-01-15" in row["details"]["message"]


def test_failure_page_says_the_checks_could_not_complete_and_hides_passwords():
    try:
        raise RuntimeError("Failed while loading data from dataset X\nQuality query q.sql failed on "
                           "postgresql+psycopg2://loader:s3cret@127.0.0.1:5432/wh: numeric field overflow")
    except RuntimeError as exc:
        error = exc
    cause = failure.cause_of(error)
    assert cause == ("RuntimeError: Quality query q.sql failed on postgresql+psycopg2://loader:***@127.0.0.1:5432/wh: "
                     "numeric field overflow")
    completed = nodes.assemble_results("r1", RUN_DATE, pd.DataFrame([
        nodes.result("retailer_1", "volume_rows", "critical", 5, 1, True, message="5 rows <ok>")]))[1]
    html = failure.render_failure_html(run_date=RUN_DATE, run_id="r1", step="dq_check_x (loading q)", cause=cause,
                                       in_quality=True, completed=completed, not_run=["dq_render_report"], error=error)
    assert "CHECKS COULD NOT COMPLETE" in html and "dq_check_x (loading q)" in html and "5 rows &lt;ok&gt;" in html
    assert "s3cret" not in html and "numeric field overflow" in html and "<script" not in html
