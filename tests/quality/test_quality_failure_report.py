"""A run that cannot finish its quality checks still writes a report saying so (issue 9 item 5):
the report (dated and latest) says the checks could not complete, which step failed and why;
the run fails with that cause in its last line; a green report never stays as the latest."""

from __future__ import annotations

import re

import pytest

from retail_pipeline.devstack.postgres import free_port
from tests.quality.test_quality_pipeline import RUN_DATE, run_quality

REPORTS = ("dq_report_2024-01-15.html", "dq_report_latest.html")


def last_line(error: BaseException) -> str:
    """What a terminal shows last for this error: its last note, else its message's last line."""
    notes = getattr(error, "__notes__", None)
    return notes[-1] if notes else str(error).strip().splitlines()[-1]


def report(kedro_project, name="dq_report_latest.html") -> str:
    return (kedro_project.data / "08_reporting" / name).read_text()


def test_a_failing_query_writes_a_could_not_complete_report_over_the_green_one(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    run_quality(kedro_project, run_id="dq-green")
    assert "All checks passed" in report(kedro_project)

    warehouse.execute("ALTER TABLE fact_sales_changes RENAME TO fact_sales_changes_gone")
    with pytest.raises(Exception) as err:
        run_quality(kedro_project, run_id="dq-broken")
    line = last_line(err.value)
    assert line.startswith("Data-quality checks could not complete for run_date 2024-01-15: "
                           "dq_check_fact_changes (loading dq_fact_changes_query) failed")
    assert "sql/quality/fact_changes.sql" in line and 'relation "fact_sales_changes" does not exist' in line
    assert "migrate" in line and "dq_report_2024-01-15.html" in line
    assert 'relation "fact_sales_changes" does not exist' in str(err.value)   # the error itself is intact

    for name in REPORTS:
        html = report(kedro_project, name)
        assert "CHECKS COULD NOT COMPLETE" in html and "All checks passed" not in html
        assert "dq_check_fact_changes" in html and "fact_sales_changes" in html
        assert "dq-broken" in html and "<script" not in html
    html = report(kedro_project)
    completed = html.split("Checks that completed")[1].split("Steps that did not run")[0]
    not_run = html.split("Steps that did not run")[1].split("The error")[0]
    assert "dq_render_report" in not_run and "dq_check_fact_changes" not in not_run   # it failed: named above
    assert "FAIL" not in completed   # what ran before the failure passed (the data is clean)

    rows = warehouse.results("dq-broken")
    verdict = [r for r in rows if r["check_name"] == "quality_checks_completed"]
    assert len(verdict) == 1 and not verdict[0]["passed"] and verdict[0]["severity"] == "critical"
    assert verdict[0]["details"]["step"] == "dq_check_fact_changes (loading dq_fact_changes_query)"
    assert "does not exist" in verdict[0]["details"]["cause"]


def test_a_check_that_raises_is_reported_as_the_step_that_failed(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    params = kedro_project.conf / "base" / "parameters_quality.yml"
    params.write_text(params.read_text().replace(
        "    fact_id_ranges:                       # fact_sales_id_range covers the ids of every window day with facts\n"
        "      severity: critical",
        "    fact_id_ranges:\n      severity: fatal"))
    with pytest.raises(ValueError) as err:
        run_quality(kedro_project, run_id="dq-typo")
    line = last_line(err.value)
    assert line.startswith("Data-quality checks could not complete for run_date 2024-01-15: "
                           "dq_check_fact_id_ranges (running) failed: ValueError: check fact_id_ranges: "
                           "severity must be one of")
    html = report(kedro_project)
    assert "CHECKS COULD NOT COMPLETE" in html and "severity must be one of" in html


def test_a_warehouse_that_is_down_still_gets_a_report_and_names_the_cause(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    run_quality(kedro_project, run_id="dq-green")
    closed = f"postgresql+psycopg2://retail_loader:secret-pw@127.0.0.1:{free_port()}/retail_analytics"
    kedro_project.write_yaml("local/credentials.yml", {"warehouse": {"con": closed}})   # merged over the rest
    with pytest.raises(Exception) as err:
        run_quality(kedro_project, run_id="dq-down")
    line = last_line(err.value)
    # the first step that reaches the warehouse: a global dq_ node, or a retailer's (it reads
    # its load's audit, `<code>.warehouse_star_schema`)
    assert re.match(r"Data-quality checks could not complete for run_date 2024-01-15: (\w+\.)?dq_", line), line
    assert "Connection refused" in line or "connection" in line.lower()
    assert "secret-pw" not in line
    for name in REPORTS:
        html = report(kedro_project, name)
        assert "CHECKS COULD NOT COMPLETE" in html and "All checks passed" not in html
        assert "secret-pw" not in html
    # nothing could be recorded in the warehouse, and that did not hide the cause
    assert warehouse.results("dq-down") == []


def test_a_failed_gate_keeps_its_own_report(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    warehouse.execute("DELETE FROM fact_sales_id_range WHERE retailer_id = 1 AND date_id = 20240114")
    with pytest.raises(Exception) as err:
        run_quality(kedro_project, run_id="dq-verdict")
    assert last_line(err.value).startswith("1 critical data-quality check(s) failed for run_date 2024-01-15: "
                                           "fact_id_ranges (retailer_1). Report: ")
    html = report(kedro_project)
    assert "FAILED" in html and "CHECKS COULD NOT COMPLETE" not in html
    assert "quality_checks_completed" not in {r["check_name"] for r in warehouse.results("dq-verdict")}
