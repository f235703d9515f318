"""Alerts through Airflow's notifier (issue 13, part 3), for real: `airflow dags test` with one
retailer's API down, its extraction retried twice and failing for good, sends exactly one alert
(for the final failure, not one per attempt) naming the retailer, the day, the step and the
task, to a local HTTP sink, through the DAG's RetailAlertNotifier and the project's own alert
configuration."""

from __future__ import annotations

import pytest

from retail_pipeline.devstack.ports import free_port
from tests.fixtures.retailers import api_credentials
from tests.production.conftest import make_prod_conf
from tests.production.test_airflow_dag import CODES, AirflowRun, _failure


@pytest.mark.airflow
def test_a_task_failing_after_its_retries_sends_one_alert(airflow_venv, prod_warehouse, retailer_apis,
                                                         retailer_databases, tmp_path_factory, webhook_sink):
    down = CODES[1]
    conf = make_prod_conf(tmp_path_factory.mktemp("alerts-conf"), prod_warehouse, retailer_apis, retailer_databases)
    conf.write_yaml("local/credentials.yml", {f"{down}_api": {**api_credentials(retailer_apis[down]),
                                                              "base_url": f"http://127.0.0.1:{free_port()}"}})
    conf.write_yaml("local/credentials_alerts.yml", {"alerts_webhook": {"url": webhook_sink.url}})
    catalog = conf.conf / "base" / "catalog_ingestion.yml"   # one request per page: each attempt fails at once
    catalog.write_text(catalog.read_text().replace("    max_attempts: 6              # per request",
                                                   "    max_attempts: 1  # per request"))
    run = AirflowRun(airflow_venv, tmp_path_factory.mktemp("airflow-alerts-home"), conf.conf)
    migrated = run.airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-4000:]

    day = "2024-05-07"
    result = run.dags_test(day)
    states = run.task_states(day)
    assert result.returncode != 0, _failure(result, run, day)
    failed = [task for task, (state, _) in states.items() if state == "failed"]
    assert len(failed) == 1 and down in failed[0], _failure(result, run, day)
    assert states[failed[0]][1] == 3, _failure(result, run, day)      # the first try and two retries

    assert len(webhook_sink.received) == 1, (webhook_sink.bodies, _failure(result, run, day))
    body = webhook_sink.bodies[0]
    assert body["kind"] == "failure" and body["severity"] == "error"
    assert body["retailers"] == [down] and body["run_date"] == day
    assert body["step"] == f"{down}.ingest_sales (loading {down}.api_sales)"
    assert body["error"].startswith(f"DatasetError: {down}.api_sales: {down}: GET ")
    assert body["airflow"]["task_id"] == failed[0] and body["airflow"]["try_number"] == 3
    assert body["airflow"]["dag_id"] == "retail_data_pipeline" and body["run_id"] == run.run_id(day)
    assert body["title"] == (f"Retail pipeline FAILED for {day} ({down}): "
                             f"Airflow task retail_data_pipeline.{failed[0]} after 3 attempt(s)")
