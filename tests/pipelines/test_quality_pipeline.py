"""The quality pipeline's pure part on an in-memory catalog: the per-retailer zone summaries and
source re-read feeding the id reconciliation, and the results -> report -> gate tail.

The warehouse checks need their SQL queries run on PostgreSQL: tests/quality (stack tier).
"""

from __future__ import annotations

import pandas as pd
import pytest

from retail_pipeline.pipelines.quality.results import DataQualityError, result

from .in_memory import api_frame, ingest, project_pipeline, run
from .records import lines_of, r1, r2, r3, r4_line, r4_order


def served() -> dict[str, pd.DataFrame]:
    return {
        "retailer_1": api_frame([r1(1), r1(2, sku=""), r1(3, "2024-01-13")], "retailer_1"),
        "retailer_2": api_frame([r2(1), r2(2, amount="N/A")], "retailer_2"),
        "retailer_3": api_frame([r3(1)], "retailer_3"),
        "retailer_4": lines_of([r4_order(1, "2024-01-15T00:30:00+01:00", [r4_line(1), r4_line(2)])]),
    }


@pytest.fixture(scope="module")
def landed() -> dict[str, dict]:
    """What ingestion wrote of `served()`: {code: {"raw", "quarantine", "manifest"}}."""
    return ingest(served())


def source_id_results(windows: dict[str, dict], reread: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """`dq_check_source_ids` and the per-retailer nodes it needs: the zone files and manifests
    are the ingestion's output, the re-read is what the source serves now."""
    data = {}
    for code, window in windows.items():
        data |= {f"{code}.raw_sales": window["raw"], f"{code}.quarantined_sales": window["quarantine"],
                 f"{code}.ingestion_manifest": window["manifest"], f"{code}.source_reread": reread[code]}
    pipeline = project_pipeline("quality").to_outputs("dq_source_ids_results")
    return run(pipeline, data)["dq_source_ids_results"].set_index("retailer_code")


def test_ids_served_are_the_ids_in_raw_plus_quarantine_for_every_retailer(landed):
    results = source_id_results(landed, served())
    assert sorted(results.index) == sorted(landed)
    assert results["passed"].all() and (results["observed"] == 0).all(), results["details"].to_dict()


def test_a_row_served_but_not_landed_fails_only_its_retailer(landed):
    reread = {**served(), "retailer_2": api_frame([r2(1), r2(2, amount="N/A"), r2(3)], "retailer_2")}
    results = source_id_results(landed, reread)
    assert not results.loc["retailer_2", "passed"] and results.loc["retailer_2", "observed"] == 1
    assert results.drop(index="retailer_2")["passed"].all()
    assert "1 served but not landed" in results.loc["retailer_2", "details"]["message"]


class Refused:
    """The re-read of a retailer whose API refuses the credentials: fails when iterated."""

    def __iter__(self):
        raise RuntimeError("401 Unauthorized: the source was read again")


def test_a_retailer_without_a_manifest_is_not_read_again_and_fails_as_not_checked(landed):
    """Its extraction failed: no manifest, no zone files. The others are compared as always."""
    nothing = {zone: landed["retailer_2"][zone].iloc[:0] for zone in ("raw", "quarantine")}
    windows = {**landed, "retailer_2": {**nothing, "manifest": None}}
    results = source_id_results(windows, {**served(), "retailer_2": Refused()})
    assert sorted(results.index) == sorted(landed)
    assert results.drop(index="retailer_2")["passed"].all()
    row = results.loc["retailer_2"]
    assert not row["passed"] and row["severity"] == "critical"
    assert row["details"]["message"].startswith("no ingestion manifest for retailer_2: source ids not checked")


def tail(*checks: dict, gate: bool = False) -> dict:
    """assemble_results -> render_report (-> gate), from given check results (the other checks
    returned nothing). Without the gate the summary is an output, with it an intermediate (and
    the report has no volume chart: the gate is what is tested then)."""
    names = ["dq_assemble_results", "dq_render_report", *(["dq_gate"] if gate else [])]
    pipeline = project_pipeline("quality").filter(node_names=names)
    given = {name: pd.DataFrame() for name in pipeline.inputs() if name.endswith("_results")}
    given["dq_volume_results"] = pd.DataFrame(list(checks))
    volume = pd.DataFrame({"retailer_code": ["retailer_1"] * 2, "row_count": [5, 6],
                           "sale_date": pd.date_range("2024-01-14", periods=2).date})
    return run(pipeline, {**given, "dq_volume_query": volume.iloc[:0] if gate else volume})


PASSED = result("retailer_1", "volume_rows", "critical", 6, 1, True, message="6 rows")
WARNED = result("retailer_2", "volume_anomaly", "warning", 0.9, 0.5, False, message="far from usual")


def test_the_summary_and_the_table_say_what_the_checks_found():
    out = tail(PASSED, WARNED)
    table, summary = out["dq_check_results"], out["dq_summary"]
    assert len(table) == 2 and set(table["run_id"]) == {"run-test"} and set(table["run_date"]) == {"2024-01-15"}
    assert summary.splitlines()[0] == ("Data quality for 2024-01-15: 1 of 2 checks passed, "
                                       "0 critical failures, 1 warnings.")
    assert "[WARNING] volume_anomaly retailer_2: far from usual" in summary
    assert out["dq_report"] == out["dq_report_latest"] and "volume_anomaly" in out["dq_report"]
    assert "dq_check_results" in tail(PASSED, WARNED, gate=True)  # a warning does not stop the run


def test_a_critical_failure_stops_the_run_naming_the_check_and_the_retailer():
    with pytest.raises(DataQualityError, match=r"1 critical data-quality check\(s\) failed .*volume_rows \(retailer_3\)"):
        tail(result("retailer_3", "volume_rows", "critical", 0, 1, False, message="no rows"), PASSED, gate=True)
