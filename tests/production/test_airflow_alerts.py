"""Alerts through Airflow's notifier (issue 13, part 3), for real, with `airflow dags test` and
the DAG's RetailAlertNotifier sending through the project's own alert configuration to a local
HTTP sink:

- one retailer's API down: its extraction, retried twice and failing for good, sends exactly
  one alert (for the final failure, not one per attempt) naming the retailer, the day, the step
  and the task; quality, which runs once every retailer's group is done, fails naming it and
  sends its own one alert;
- one retailer silent: the quality task's critical verdict (not retried) sends exactly one
  alert with the failed checks and the report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retail_pipeline.devstack.ports import free_port
from tests.fixtures.retailers import api_credentials
from tests.production.conftest import ProdConf, make_prod_conf
from tests.production.test_airflow_dag import CODES, AirflowRun, _failure


@pytest.fixture(scope="module")
def alerts_airflow_home(airflow_venv, tmp_path_factory) -> Path:
    """An Airflow home of this module's own (its DAG runs are for days no other test uses)."""
    home = tmp_path_factory.mktemp("airflow-alerts-home")
    migrated = AirflowRun(airflow_venv, home, home).airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-4000:]
    return home


@pytest.fixture
def alerting_conf(tmp_path_factory, prod_warehouse, retailer_apis, retailer_databases, webhook_sink) -> ProdConf:
    """The test stack's conf with the sink as the alert webhook."""
    conf = make_prod_conf(tmp_path_factory.mktemp("alerts-conf"), prod_warehouse, retailer_apis, retailer_databases)
    conf.write_yaml("local/credentials_alerts.yml", {"alerts_webhook": {"url": webhook_sink.url}})
    return conf


@pytest.mark.airflow
def test_a_task_failing_after_its_retries_sends_one_alert(airflow_venv, alerts_airflow_home, alerting_conf,
                                                         retailer_apis, webhook_sink):
    down = CODES[1]
    alerting_conf.write_yaml("local/credentials.yml", {f"{down}_api": {
        **api_credentials(retailer_apis[down]), "base_url": f"http://127.0.0.1:{free_port()}"}})
    catalog = alerting_conf.conf / "base" / "catalog_ingestion.yml"   # one request per page: fail at once
    catalog.write_text(catalog.read_text().replace("    max_attempts: 6              # per request",
                                                   "    max_attempts: 1  # per request"))
    run = AirflowRun(airflow_venv, alerts_airflow_home, alerting_conf.conf)

    day = "2024-05-07"
    result = run.dags_test(day)
    states = run.task_states(day)
    assert result.returncode != 0, _failure(result, run, day)
    failed = {task: tries for task, (state, tries) in states.items() if state == "failed"}
    extract = f"{down}.extract"
    # Its extraction fails after its retries; quality still runs (all_done) and fails naming it.
    assert set(failed) == {extract, "quality"}, _failure(result, run, day)
    assert failed[extract] == 3, _failure(result, run, day)      # the first try and two retries

    # One alert per failed task, for its final failure: none for a retry.
    by_task = {body["airflow"]["task_id"]: body for body in webhook_sink.bodies}
    assert len(webhook_sink.received) == 2 and set(by_task) == {extract, "quality"}, (
        webhook_sink.bodies, _failure(result, run, day))
    body = by_task[extract]
    assert body["kind"] == "failure" and body["severity"] == "error"
    assert body["retailers"] == [down] and body["run_date"] == day
    assert body["step"] == f"{down}.ingest_sales (loading {down}.api_sales)"
    assert body["error"].startswith(f"DatasetError: {down}.api_sales: {down}: GET ")
    assert body["airflow"]["try_number"] == 3
    assert body["airflow"]["dag_id"] == "retail_data_pipeline" and body["run_id"] == run.run_id(day)
    assert body["title"] == (f"Retail pipeline FAILED for {day} ({down}): "
                             f"Airflow task retail_data_pipeline.{extract} after 3 attempt(s)")
    quality = by_task["quality"]
    assert down in quality["error"] and quality["airflow"]["try_number"] == failed["quality"]


@pytest.mark.airflow
def test_a_critical_quality_verdict_sends_one_alert_from_the_quality_task(airflow_venv, alerts_airflow_home,
                                                                        alerting_conf, seed_days, webhook_sink):
    day = "2024-06-11"
    silent = CODES[-1]
    seed_days("2024-06-08", day, rows_per_day=30, retailers=CODES[:-1])
    run = AirflowRun(airflow_venv, alerts_airflow_home, alerting_conf.conf)
    result = run.dags_test(day)
    states = run.task_states(day)
    assert result.returncode != 0 and states["quality"] == ("failed", 1), _failure(result, run, day)

    assert len(webhook_sink.received) == 1, (webhook_sink.bodies, _failure(result, run, day))
    body = webhook_sink.bodies[0]
    assert body["kind"] == "quality_critical" and body["run_date"] == day and silent in body["retailers"]
    assert ("volume_rows", silent, "critical") in {
        (c["check_name"], c["retailer_code"], c["severity"]) for c in body["checks"]}
    assert body["airflow"]["task_id"] == "quality" and body["airflow"]["try_number"] == 1
    assert body["report_url"].endswith(f"dq_report_{day}.html")
    assert Path(body["report_url"].removeprefix("file://")).exists()
