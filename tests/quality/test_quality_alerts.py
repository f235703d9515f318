"""Quality alerts from `kedro run` (issue 13, part 3), on the real warehouse and retailer APIs,
to a local HTTP sink: a critical failure sends exactly one alert (retailer, day, checks, report
link), warnings only send one warning alert, a clean run sends none, checks that could not
complete send one failure alert linking the failure report, and a hanging webhook neither
fails nor holds the run."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from retail_pipeline.pipelines.quality.results import DataQualityError
from tests.quality.conftest import RETAILERS
from tests.quality.test_quality_pipeline import RUN_DATE, run_quality


@pytest.fixture
def alerting(kedro_project, warehouse, webhook_sink):
    """The test conf with the sink as the webhook (credentials, as a user would configure it)."""
    kedro_project.write_yaml("local/credentials_alerts.yml", {"alerts_webhook": {"url": webhook_sink.url}})
    return kedro_project


def report_file(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(urlsplit(url).path)


def test_a_critical_failure_sends_exactly_one_alert_with_retailer_day_checks_and_report(
        alerting, warehouse, webhook_sink):
    warehouse.load_clean(RUN_DATE, retailers=[code for code in RETAILERS if code != "retailer_2"])
    days = {}   # retailer_2 loaded the earlier window days, nothing for the run date
    for n in (3, 2, 1):
        day = RUN_DATE - timedelta(days=n)
        amount = warehouse.add_sales("retailer_2", day, 5)
        warehouse.add_audit("retailer_2", day, 5, amount)
        days[day] = {"rows_written": 5, "total_amount_written": amount}
    days[RUN_DATE] = {"rows_written": 0, "total_amount_written": 0}
    warehouse.write_manifest("retailer_2", RUN_DATE, days)

    with pytest.raises(DataQualityError):
        run_quality(alerting, run_id="dq-alert-critical")
    assert len(webhook_sink.received) == 1, webhook_sink.bodies
    body = webhook_sink.bodies[0]
    assert body["kind"] == "quality_critical" and body["severity"] == "critical"
    assert body["run_date"] == "2024-01-15" and body["run_id"] == "dq-alert-critical"
    assert body["retailers"] == ["retailer_2"]
    assert [(c["check_name"], c["retailer_code"], c["severity"]) for c in body["checks"]] == [
        ("volume_rows", "retailer_2", "critical")]
    assert "no data loaded for 2024-01-15" in body["checks"][0]["message"]
    assert body["title"].startswith("Data quality CRITICAL for 2024-01-15: 1 critical check(s) failed: "
                                    "volume_rows (retailer_2)")
    report = report_file(body["report_url"])
    assert report.name == "dq_report_2024-01-15.html" and report.exists()
    assert f"Report: {body['report_url']}" in body["text"]
    assert "critical data-quality check(s) failed" in body["error"]


def test_warnings_only_send_one_warning_alert_and_the_run_succeeds(alerting, warehouse, webhook_sink):
    warehouse.load_clean(RUN_DATE, retailers=[code for code in RETAILERS if code != "retailer_3"])
    warehouse.load_clean(RUN_DATE, retailers=("retailer_3",), loaded_hours_ago=24 * 5)
    run_quality(alerting, run_id="dq-alert-stale")
    assert len(webhook_sink.received) == 1, webhook_sink.bodies
    body = webhook_sink.bodies[0]
    assert body["kind"] == "quality_warning" and body["severity"] == "warning"
    assert body["retailers"] == ["retailer_3"] and body["run_date"] == "2024-01-15"
    assert [(c["check_name"], c["retailer_code"]) for c in body["checks"]] == [("freshness", "retailer_3")]
    assert report_file(body["report_url"]).exists()


def test_a_clean_run_sends_nothing(alerting, warehouse, webhook_sink):
    warehouse.load_clean(RUN_DATE)
    run_quality(alerting, run_id="dq-alert-clean")
    assert webhook_sink.received == []


def test_checks_that_could_not_complete_send_one_failure_alert_with_the_failure_report(
        alerting, warehouse, webhook_sink):
    warehouse.load_clean(RUN_DATE)
    warehouse.execute("ALTER TABLE fact_sales_changes RENAME TO fact_sales_changes_gone")
    with pytest.raises(Exception, match="fact_sales_changes"):
        run_quality(alerting, run_id="dq-alert-broken")
    assert len(webhook_sink.received) == 1, webhook_sink.bodies
    body = webhook_sink.bodies[0]
    assert body["kind"] == "failure"
    assert body["step"] == "dq_check_fact_changes (loading dq_fact_changes_query)"
    assert 'relation "fact_sales_changes" does not exist' in body["error"]
    assert "CHECKS COULD NOT COMPLETE" in report_file(body["report_url"]).read_text()


def test_slack_format_for_a_critical_failure(alerting, warehouse, webhook_sink):
    warehouse.load_clean(RUN_DATE)
    warehouse.execute("DELETE FROM fact_sales_id_range WHERE retailer_id = 1 AND date_id = 20240114")
    with pytest.raises(DataQualityError):
        alerting.run("quality", run_date=RUN_DATE.isoformat(), run_id="dq-alert-slack", lookback_days=3,
                     alerts={"format": "slack"})
    [body] = webhook_sink.bodies
    assert set(body) == {"text", "blocks"}
    assert "Data quality CRITICAL for 2024-01-15" in body["text"]
    assert "fact_id_ranges (retailer_1)" in body["blocks"][1]["text"]["text"]
    assert body["blocks"][-1]["elements"][0]["text"].endswith("dq_report_2024-01-15.html|Open the report>")


def test_a_hanging_webhook_neither_fails_nor_holds_the_run(alerting, warehouse, webhook_sink):
    webhook_sink.hang = True
    warehouse.load_clean(RUN_DATE, retailers=[code for code in RETAILERS if code != "retailer_3"])
    warehouse.load_clean(RUN_DATE, retailers=("retailer_3",), loaded_hours_ago=24 * 5)
    alerting.run("quality", run_date=RUN_DATE.isoformat(), run_id="dq-alert-hang", lookback_days=3,
                 alerts={"timeout_seconds": 1, "attempts": 2})   # succeeds: the warning alert is not delivered
    ended = time.monotonic()
    assert len(webhook_sink.received) == 2                     # two attempts, each timed out
    # from the first attempt to the end of the run: the two timeouts and the backoff, no more
    assert ended - webhook_sink.received[0]["at"] < 2 * 1 + 0.5 + 2.0
