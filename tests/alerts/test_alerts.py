"""Alerts (issue 13, part 3) without the stack: the settings, the payloads (JSON and Slack), the
delivery against a local HTTP sink (refused, hanging, failing webhooks are bounded warnings),
a `kedro run` whose node fails (a retailer API that is down) sending one failure alert, the
hand-over under Airflow, and `python -m retail_pipeline.alerts send` (what the DAG's notifier
runs). The quality alerts on a real warehouse are in tests/quality/test_quality_alerts.py."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from retail_pipeline import alerts
from retail_pipeline.devstack.ports import free_port
from kedro.io.core import DatasetError

ROOT = Path(__file__).resolve().parents[2]
RUN_DATE = "2024-01-15"


def settings(url: str | None, **params) -> alerts.AlertSettings:
    return alerts.AlertSettings.from_config(params, {"alerts_webhook": {"url": url}} if url else {})


def results(*rows) -> pd.DataFrame:
    """A dq_results frame: (retailer, check, severity, passed, message) per row."""
    return pd.DataFrame([
        {"run_id": "r1", "run_date": RUN_DATE, "retailer_code": code, "check_name": check, "severity": severity,
         "observed": 0.0, "threshold": 1.0, "passed": passed, "details": {"message": message}}
        for code, check, severity, passed, message in rows])


CRITICAL = results(("retailer_2", "volume_rows", "critical", False, "no data loaded for 2024-01-15"),
                   ("retailer_3", "freshness", "warning", False, "stale: 120 h"),
                   ("retailer_1", "volume_rows", "critical", True, "ok"),
                   (None, "facts_moved", "info", False, "2 facts moved"))
WARNINGS = results(("retailer_3", "freshness", "warning", False, "stale: 120 h"),
                   ("retailer_1", "volume_rows", "critical", True, "ok"))


# -- settings --------------------------------------------------------------------------------
def test_no_webhook_or_disabled_means_no_alert_and_no_error(webhook_sink):
    alert = alerts.quality_alert(CRITICAL, run_date=RUN_DATE)
    assert not settings(None).active
    assert alerts.send(alert, settings(None)) is False
    assert alerts.send(alert, settings(webhook_sink.url, enabled=False)) is False
    assert alerts.send(alert, settings(webhook_sink.url, enabled="false")) is False
    assert webhook_sink.received == []


def test_bad_settings_fall_back_to_defaults_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="retail_pipeline.alerts"):
        odd = settings("http://127.0.0.1:9/x", format="xml", timeout_seconds="soon", attempts=50)
        not_http = settings("ftp://example.com/hook")
    assert odd.format == "json" and odd.timeout_seconds == 5.0 and odd.attempts == 5
    assert not not_http.active
    assert "alerts.format" in caplog.text and "http(s)" in caplog.text


# -- payloads --------------------------------------------------------------------------------
def test_one_quality_alert_per_run_critical_first_with_warnings_listed():
    alert = alerts.quality_alert(CRITICAL, run_date=RUN_DATE, run_id="r1", report="/srv/r/dq_report_2024-01-15.html")
    assert alert["kind"] == "quality_critical"
    assert alert["retailers"] == ["retailer_2", "retailer_3"]
    assert [(c["check_name"], c["retailer_code"], c["severity"]) for c in alert["checks"]] == [
        ("volume_rows", "retailer_2", "critical"), ("freshness", "retailer_3", "warning")]   # info and passes left out
    payload = alerts.render(alert, settings("http://h/x"))
    assert payload["severity"] == "critical" and payload["run_date"] == RUN_DATE
    assert payload["title"].startswith("Data quality CRITICAL for 2024-01-15: 1 critical check(s) failed: "
                                       "volume_rows (retailer_2); 1 warning(s)")
    assert payload["report_url"] == "file:///srv/r/dq_report_2024-01-15.html"
    assert "no data loaded for 2024-01-15" in payload["text"] and "Report: file:///srv/r/" in payload["text"]
    published = alerts.render(alert, settings("http://h/x", report_base_url="https://reports.example.com/dq/"))
    assert published["report_url"] == "https://reports.example.com/dq/dq_report_2024-01-15.html"

    warning = alerts.quality_alert(WARNINGS, run_date=RUN_DATE)
    assert warning["kind"] == "quality_warning" and warning["retailers"] == ["retailer_3"]
    assert alerts.render(warning, settings("http://h/x"))["title"] == (
        "Data quality warnings for 2024-01-15: 1 check(s): freshness (retailer_3)")
    assert alerts.quality_alert(results(("retailer_1", "volume_rows", "critical", True, "ok"),
                                        (None, "facts_moved", "info", False, "moved")), run_date=RUN_DATE) is None


def test_slack_payload_has_text_and_blocks(webhook_sink):
    alert = alerts.quality_alert(CRITICAL, run_date=RUN_DATE, report="/srv/r/dq_report_2024-01-15.html")
    assert alerts.send(alert, settings(webhook_sink.url, format="slack")) is True
    [body] = webhook_sink.bodies
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith(":rotating_light: Data quality CRITICAL for 2024-01-15")
    header, section, context = body["blocks"]
    assert header["type"] == "header" and len(header["text"]["text"]) <= 150
    assert section["type"] == "section" and "volume_rows (retailer_2)" in section["text"]["text"]
    assert context["elements"][0]["text"] == "<file:///srv/r/dq_report_2024-01-15.html|Open the report>"
    assert webhook_sink.received[0]["headers"]["content-type"] == "application/json"


def test_a_long_alert_stays_within_slacks_limits():
    many = results(*[(f"retailer_{n % 4 + 1}", f"check_{n:03d}", "critical", False, "x" * 290) for n in range(200)])
    body = alerts.render(alerts.quality_alert(many, run_date=RUN_DATE), settings("http://h/x", format="slack"))
    assert len(body["blocks"][1]["text"]["text"]) <= 3000 and len(body["blocks"][0]["text"]["text"]) <= 150


# -- delivery --------------------------------------------------------------------------------
def test_unreachable_webhook_is_a_warning_not_an_error(caplog):
    closed = f"http://127.0.0.1:{free_port()}/hooks/secret-token"
    alert = alerts.quality_alert(WARNINGS, run_date=RUN_DATE)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="retail_pipeline.alerts"):
        assert alerts.send(alert, settings(closed, timeout_seconds=1, attempts=2)) is False
    assert time.monotonic() - started < 3
    assert "Could not deliver the alert" in caplog.text and "secret-token" not in caplog.text


def test_a_hanging_webhook_is_bounded_by_the_timeout(webhook_sink, caplog):
    webhook_sink.hang = True
    config = settings(webhook_sink.url, timeout_seconds=0.5, attempts=2)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="retail_pipeline.alerts"):
        assert alerts.send(alerts.quality_alert(WARNINGS, run_date=RUN_DATE), config) is False
    elapsed = time.monotonic() - started
    assert elapsed <= config.budget_seconds and elapsed < 3, elapsed
    assert len(webhook_sink.received) == 2          # bounded retries: every attempt timed out
    assert "timed out" in caplog.text or "no answer" in caplog.text


@pytest.mark.parametrize(("status", "attempts_made"), [(500, 2), (429, 2), (404, 1), (200, 1)])
def test_server_errors_are_retried_a_bounded_number_of_times(webhook_sink, status, attempts_made):
    webhook_sink.status = status
    sent = alerts.send(alerts.quality_alert(WARNINGS, run_date=RUN_DATE),
                       settings(webhook_sink.url, timeout_seconds=2, attempts=2))
    assert sent is (status == 200)
    assert len(webhook_sink.received) == attempts_made


# -- kedro run -------------------------------------------------------------------------------
@pytest.fixture
def down_project(kedro_project, webhook_sink):
    """The test conf: every retailer API on a closed port (the placeholder credentials), one
    request per page (no urllib3 retries, so the failure comes at once), the sink as webhook."""
    catalog = kedro_project.conf / "base" / "catalog_ingestion.yml"
    text = catalog.read_text()
    assert "    max_attempts: 6              # per request" in text
    catalog.write_text(text.replace("    max_attempts: 6              # per request", "    max_attempts: 1  # per request"))
    kedro_project.write_yaml("local/credentials_alerts.yml", {"alerts_webhook": {"url": webhook_sink.url}})
    return kedro_project


def run_ingestion(project, namespaces, **params):
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=ROOT, env="local", conf_source=str(project.conf),
                             runtime_params={"run_date": RUN_DATE, "run_id": "alert-test", **params}) as session:
        return session.run(pipeline_names=["ingestion"], namespaces=namespaces)


def test_a_failing_node_sends_one_failure_alert_naming_the_node_and_retailer(down_project, webhook_sink):
    with pytest.raises(DatasetError, match="retailer_"):
        run_ingestion(down_project, ["retailer_2"])
    assert len(webhook_sink.received) == 1
    body = webhook_sink.bodies[0]
    assert body["kind"] == "failure" and body["severity"] == "error"
    assert body["retailers"] == ["retailer_2"] and body["run_date"] == RUN_DATE and body["run_id"] == "alert-test"
    assert body["step"] == "retailer_2.ingest_sales (loading retailer_2.api_sales)"
    assert body["error"].startswith("DatasetError: retailer_2.api_sales: retailer_2: GET http://127.0.0.1:9/")
    assert body["pipeline"] == "ingestion --namespaces retailer_2"
    assert body["title"] == ("Retail pipeline FAILED for 2024-01-15 (retailer_2): "
                             "kedro run --pipelines ingestion --namespaces retailer_2")
    assert body["report_url"] is None   # an ingestion run writes no quality report


def test_alerts_can_be_switched_off_for_a_run(down_project, webhook_sink):
    with pytest.raises(DatasetError, match="retailer_"):
        run_ingestion(down_project, ["retailer_1"], alerts={"enabled": False})
    assert webhook_sink.received == []


def test_under_airflow_the_run_hands_its_alert_over_instead_of_sending(down_project, webhook_sink,
                                                                        monkeypatch, capsys):
    monkeypatch.setenv(alerts.VIA_ENV, "airflow")
    with pytest.raises(DatasetError, match="retailer_"):
        run_ingestion(down_project, ["retailer_3"])
    assert webhook_sink.received == []
    handed = [line for line in capsys.readouterr().out.splitlines() if line.startswith(alerts.MARKER)]
    assert len(handed) == 1
    alert = json.loads(handed[0][len(alerts.MARKER):])
    assert alert["kind"] == "failure" and alert["retailers"] == ["retailer_3"] and alert["run_date"] == RUN_DATE


def send_cli(project, alert: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != alerts.VIA_ENV}
    return subprocess.run([sys.executable, "-m", "retail_pipeline.alerts", "send", "--env", "local",
                           "--conf-source", str(project.conf)], input=json.dumps(alert), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_the_send_command_uses_the_projects_configuration(down_project, webhook_sink):
    """What the Airflow notifier runs: the alert from stdin, the env's webhook and format."""
    alert = {**alerts.new_alert("failure", run_date=RUN_DATE, retailers=["retailer_4"], step="task extract_retailer_4",
                                error="AirflowException: kedro run exited with code 1"),
             "airflow": {"dag_id": "retail_data_pipeline", "task_id": "extract_retailer_4", "try_number": 3,
                         "log_url": "http://airflow.example/log"}}
    result = send_cli(down_project, alert)
    assert result.returncode == 0, result.stderr
    assert "alert sent to http://127.0.0.1:" in result.stdout and "secret-token" not in result.stdout
    [body] = webhook_sink.bodies
    assert body["title"] == ("Retail pipeline FAILED for 2024-01-15 (retailer_4): "
                             "Airflow task retail_data_pipeline.extract_retailer_4 after 3 attempt(s)")
    assert body["airflow"]["try_number"] == 3 and "Airflow log: http://airflow.example/log" in body["text"]

    (down_project.conf / "local" / "credentials_alerts.yml").unlink()
    result = send_cli(down_project, alert)
    assert result.returncode == 0 and "no webhook configured" in result.stdout
    assert len(webhook_sink.received) == 1
    assert send_cli(down_project, {"kind": "nonsense"}).returncode == 2
