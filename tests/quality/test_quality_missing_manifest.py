"""A retailer whose extraction failed wrote no ingestion manifest for the run date: the quality
pipeline reports it (failing checks that name it) and still checks, stores and reports every
other retailer, then fails the run at the gate. On the real stack: PostgreSQL, the retailer APIs."""

from __future__ import annotations

from datetime import date

import pytest

from retail_pipeline.pipelines.quality.results import DataQualityError
from tests.fixtures.retailers import api_credentials
from tests.quality.conftest import RETAILERS

RUN_DATE = date(2024, 1, 15)
BROKEN = "retailer_2"


def test_a_retailer_without_a_manifest_fails_by_name_and_the_others_are_checked_and_reported(
        warehouse, kedro_project, retailer_apis):
    others = [code for code in RETAILERS if code != BROKEN]
    warehouse.load_clean(RUN_DATE, retailers=others)
    # BROKEN: no manifest, no zone files, no load for the window, and its API refuses the
    # credentials (why its extraction failed): reading its source again would fail the run.
    api = retailer_apis[BROKEN]
    wrong = {**api_credentials(api), **{key: "wrong-secret" for key in ("api_key", "client_secret") if key in api}}
    kedro_project.write_yaml("local/credentials.yml", {f"{BROKEN}_api": wrong})

    with pytest.raises(DataQualityError) as err:
        kedro_project.run("quality", run_date=RUN_DATE.isoformat(), run_id="dq-no-manifest", lookback_days=3)
    verdict = str(err.value).splitlines()[-1]
    assert f"reconciliation_source ({BROKEN})" in verdict and "retailer_1" not in verdict

    results = warehouse.results("dq-no-manifest")
    by_retailer = {code: [r for r in results if r["retailer_code"] == code] for code in RETAILERS}
    for code in others:  # checked as on any day, and clean
        assert len(by_retailer[code]) > 20 and all(r["passed"] for r in by_retailer[code]), code
    failed = {r["check_name"]: r for r in by_retailer[BROKEN] if not r["passed"]}
    assert {"reconciliation_source", "reconciliation_warehouse", "reconciliation_source_ids",
            "quarantine_rate", "volume_rows", "freshness"} <= set(failed)
    for check in ("reconciliation_source", "reconciliation_source_ids", "quarantine_rate"):
        assert failed[check]["details"]["message"].startswith(f"no ingestion manifest for {BROKEN}"), check
    assert failed["reconciliation_source_ids"]["severity"] == "critical"
    assert "run the ingestion pipeline for that date first" in failed["reconciliation_source"]["details"]["message"]
    assert "source ids not checked" in failed["reconciliation_source_ids"]["details"]["message"]
    # what is there was still compared: no zone files and no facts of BROKEN agree
    assert next(r for r in by_retailer[BROKEN] if r["check_name"] == "reconciliation_warehouse_ids")["passed"]

    html = (kedro_project.data / "08_reporting" / "dq_report_2024-01-15.html").read_text()
    assert "FAILED" in html and f"no ingestion manifest for {BROKEN}" in html
    assert "could not complete" not in html.lower()  # the normal report, not the failure hook's
