"""The quality nodes on small frames: thresholds come from parameters, the gate names checks."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from retail_pipeline.pipelines.quality import nodes
from tests.fixtures.kedro_project import PROJECT_ROOT

PARAMS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_quality.yml").read_text())["quality"]


def manifest(received, quarantined):
    return {"days": [{"sale_date": "2024-01-15", "rows_received": received,
                      "rows_written": received - quarantined, "rows_quarantined": quarantined,
                      "total_amount_written": 0}]}


@pytest.mark.parametrize("quarantined, severity, passed", [(1, "warning", True), (3, "warning", False),
                                                           (30, "critical", False)])
def test_quarantine_rate_thresholds_come_from_parameters(quarantined, severity, passed):
    out = nodes.check_quarantine_rate(pd.DataFrame(), {"retailer_1": manifest(100, quarantined)}, PARAMS)
    row = out.iloc[0]
    assert (row["severity"], bool(row["passed"])) == (severity, passed)


def test_severity_is_configurable():
    params = {**PARAMS, "checks": {**PARAMS["checks"], "uniqueness": {"severity": "warning"}}}
    dup = pd.DataFrame([{"retailer_code": "retailer_1", "duplicate_keys": 1, "extra_rows": 1,
                         "transaction_id": "T1", "product_id": 7, "copies": 2,
                         "first_date_id": 20240114, "last_date_id": 20240115}])
    row = nodes.check_uniqueness(dup, {"retailer_1": {}}, params).iloc[0]
    assert row["severity"] == "warning" and not row["passed"]


def test_fact_id_ranges_counts_problem_days_per_retailer_and_passes_the_others():
    problems = pd.DataFrame([
        {"retailer_code": "retailer_1", "problem": "missing_range", "problems": 1, "date_id": 20240114, "facts": 5,
         "min_transaction_id": "T-10", "max_transaction_id": "T-14", "first_transaction_id": None,
         "last_transaction_id": None},
        {"retailer_code": "retailer_1", "problem": "range_too_narrow", "problems": 3, "date_id": 20240113, "facts": 5,
         "min_transaction_id": "T-01", "max_transaction_id": "T-09", "first_transaction_id": "T-02",
         "last_transaction_id": "T-09"}])
    out = nodes.check_fact_id_ranges(problems, {"retailer_1": {}, "retailer_2": {}}, PARAMS)
    bad, good = (out[out["retailer_code"] == code].iloc[0] for code in ("retailer_1", "retailer_2"))
    assert (bad["check_name"], bad["severity"], bad["observed"], bool(bad["passed"])) == (
        "fact_id_ranges", "critical", 4, False)
    assert bad["details"]["problems"] == {"missing_range": 1, "range_too_narrow": 3}
    assert [(s["problem"], s["day"]) for s in bad["details"]["sample"]] == [
        ("missing_range", "2024-01-14"), ("range_too_narrow", "2024-01-13")]
    assert ("1 day(s) with facts and no range row, 3 day(s) with ids outside their range "
            "(e.g. on 2024-01-13, 2024-01-14)") in bad["details"]["message"]
    assert bool(good["passed"]) and good["observed"] == 0 and good["details"]["sample"] == []
    assert good["details"]["message"] == "fact_sales_id_range covers every window day's transaction ids"


def test_gate_names_failed_critical_checks_and_ignores_warnings():
    frames = [pd.DataFrame([nodes.result("retailer_2", "volume_rows", "critical", 0, 1, False, message="none"),
                            nodes.result("retailer_3", "freshness", "warning", 50, 36, False, message="stale"),
                            nodes.result(None, "completeness", "critical", 0, 0, True, message="ok")])]
    _, results = nodes.assemble_results("r1", "2024-01-15", *frames)
    summary = nodes.summarize(results, "data/08_reporting/dq_report_2024-01-15.html")
    assert "1 of 3 checks passed" in summary and "Report: data/08_reporting" in summary
    with pytest.raises(nodes.DataQualityError, match=r"volume_rows \(retailer_2\)") as err:
        nodes.quality_gate(results, summary)
    assert "freshness (retailer_3)" not in str(err.value).splitlines()[0]
    warnings_only = results[results["severity"] == "warning"]
    nodes.quality_gate(warnings_only, summary)  # passes


def test_report_is_self_contained_html_with_chart_and_failures():
    _, results = nodes.assemble_results("r1", "2024-01-15", pd.DataFrame([
        nodes.result("retailer_1", "business_rule_total_amount", "critical", 1, 0, False,
                      message="1 facts break it", sample=[{"transaction_id": "T<9>", "total_amount": 1.5}])]))
    volume = pd.DataFrame({"retailer_code": ["retailer_1"] * 3, "row_count": [5, 6, 0],
                           "sale_date": pd.date_range("2024-01-13", periods=3).date})
    html, latest, summary = nodes.render_report(results, volume, PARAMS)
    assert html == latest and "data:image/png;base64," in html
    assert "T&lt;9&gt;" in html and "business_rule_total_amount" in html and "<script" not in html


REGISTRY = yaml.safe_load((PROJECT_ROOT / "conf/base/retailers.yml").read_text())["retailers"]


def test_source_reread_reads_the_registry_entry_ids_and_local_days():
    """Retailer 4 re-read as ingestion files it: order + line ids, Paris dates, the run date for
    a row dated outside the window or not dated at all."""
    served = pd.DataFrame({
        "order_ref": ["WEB-1", "WEB-1", "WEB-2", "WEB-3", "WEB-4"],
        "line_no": [1, 2, 1, 1, 1],
        "placed_at": ["2024-01-14T00:30:00+01:00", "2024-01-14T00:30:00+01:00", "2024-01-15T23:30:00+01:00",
                      "garbage", "2024-01-16T00:30:00+01:00"],
        "customer_ref": "C", "shop_ref": "S", "sku": "SKU", "title": "W", "family": "F", "units": 1,
        "unit_price_cents": 100, "line_total_cents": 100, "source_page": 1, "source_record": "{}",
    })
    served.attrs["extraction"] = {"retailer_code": "retailer_4"}
    out = pd.concat(nodes.source_ids(served, REGISTRY["retailer_4"], "2024-01-15", 3))  # a generator node
    assert list(zip(out["sale_date"], out["transaction_id"])) == [
        ("2024-01-14", "WEB-1-1"), ("2024-01-14", "WEB-1-2"), ("2024-01-15", "WEB-2-1"),
        ("2024-01-15", "WEB-3-1"), ("2024-01-15", "WEB-4-1")]


def test_quality_nodes_name_no_retailer():
    """The checks list the retailers of the run (manifests, warehouse rows), never a fixed set."""
    import inspect
    import re

    from retail_pipeline.pipelines.quality import (id_checks, load_checks, reconciliation, reporting, results,
                                                   warehouse_checks)

    for module in (id_checks, load_checks, nodes, reconciliation, reporting, results, warehouse_checks):
        assert not re.search(r"retailer_\d", inspect.getsource(module)), module.__name__
    out = nodes.check_quarantine_rate(pd.DataFrame(), {"acme_foods": manifest(10, 0)}, PARAMS)
    assert out["retailer_code"].tolist() == ["acme_foods"]


# -- a retailer whose run wrote no ingestion manifest (its extraction failed) ------------------
def test_a_missing_manifest_is_kept_as_none_and_a_malformed_one_still_fails():
    handed = nodes.manifest_after_ingestion(None)  # the dataset's load: no manifest file
    assert handed is not None  # Kedro saves no None between nodes
    collected = nodes.collect_manifests(retailer_1=manifest(10, 0), retailer_2=handed,
                                        retailer_2__loaded=3)
    assert collected == {"retailer_1": manifest(10, 0), "retailer_2": None}
    with pytest.raises(ValueError, match="retailer_2 is not a JSON object: list"):
        nodes.collect_manifests(retailer_2=[1, 2])


def test_the_manifest_checks_fail_the_retailer_without_one_and_keep_the_others():
    manifests = {"retailer_1": manifest(10, 0), "retailer_2": None}
    empty = pd.DataFrame()
    rate = nodes.check_quarantine_rate(empty, manifests, PARAMS).set_index("retailer_code")
    assert bool(rate.loc["retailer_1", "passed"])
    assert not rate.loc["retailer_2", "passed"]
    assert "no ingestion manifest for retailer_2" in rate.loc["retailer_2", "details"]["message"]
    volume = pd.DataFrame({"retailer_code": ["retailer_1"], "sale_date": ["2024-01-15"], "row_count": [10]})
    vol = nodes.check_volume(volume, manifests, "2024-01-15", PARAMS)
    assert set(vol["retailer_code"]) == {"retailer_1", "retailer_2"}
    recon = nodes.check_reconciliation(pd.DataFrame(), manifests, {}, PARAMS)
    mine = recon[recon["retailer_code"] == "retailer_2"]
    assert len(mine) == 2 and not mine["passed"].any() and set(mine["severity"]) == {"critical"}
    for check in (nodes.check_fact_changes, nodes.check_load_volume_drop):
        assert "retailer_2" in set(check(pd.DataFrame(), manifests, PARAMS)["retailer_code"])


def test_without_a_manifest_the_source_is_not_read_again_and_its_ids_fail_as_not_checked():
    from retail_pipeline.datasets.id_files import IdsNotRead

    class Unreadable:  # the re-read of a retailer whose API refuses the credentials
        def __iter__(self):
            raise AssertionError("the source was read again")

    missing = nodes.manifest_after_ingestion(None)
    out = list(nodes.source_ids(Unreadable(), REGISTRY["retailer_2"], "2024-01-15", 3, ingested=missing))
    assert len(out) == 1 and isinstance(out[0], IdsNotRead)

    ids = pd.DataFrame({"sale_date": ["2024-01-15"], "transaction_id": ["T1"]})
    landed = ids.assign(zone="raw")
    results = nodes.check_source_ids(PARAMS, "2024-01-15", 3, retailer_1__served=ids, retailer_1__landed=landed,
                                     retailer_2__served=out[0], retailer_2__landed=landed.iloc[:0])
    results = results.set_index("retailer_code")
    assert bool(results.loc["retailer_1", "passed"])
    row = results.loc["retailer_2"]
    assert not row["passed"] and row["severity"] == PARAMS["checks"]["reconciliation_source_ids"]["severity"]
    assert row["details"]["message"].startswith("no ingestion manifest for retailer_2: source ids not checked")
