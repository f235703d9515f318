"""The weekly retention DAG `retail_retention`, generated with the daily DAG (airflow/retail_data_pipeline.j2):
its shape in Airflow's own DagBag, and a real `airflow dags test` run that removes an old zone day."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.production.conftest import make_prod_conf
from tests.production.test_airflow_dag import DAG_FILE, AirflowRun, airflow_env
from tests.fixtures.warehouse import copy_warehouse

DAG_ID = "retail_retention"
DESCRIBE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
if bag.import_errors:
    raise SystemExit("import errors: %r" % bag.import_errors)
dag = bag.dags[sys.argv[2]]
(task,) = dag.tasks
print(json.dumps({"cron": dag.timetable.expression, "timetable": type(dag.timetable).__name__,
                  "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
                  "params": {k: dag.params[k] for k in dag.params}, "task_id": task.task_id,
                  "operator": type(task).__name__, "retries": task.retries, "today": task.today,
                  "keep_days": task.keep_days, "command": task.command(),
                  "failure_callbacks": len(task.on_failure_callback or [])}))
"""


def test_retention_dag_runs_weekly_with_keep_days_as_a_parameter(airflow_venv, tmp_path):
    result = subprocess.run([str(airflow_venv / "bin" / "python"), "-c", DESCRIBE, str(DAG_FILE.parent), DAG_ID],
                            env=airflow_env(tmp_path, KEDRO_PYTHON="/path/to/project/python"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    dag = json.loads(result.stdout.strip().splitlines()[-1])
    assert dag["timetable"] == "CronDataIntervalTimetable" and dag["cron"] == "0 4 * * 0"   # Sundays, after the daily run
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert dag["params"] == {"keep_days": None}          # None: the parameter retention.keep_days
    assert dag["task_id"] == "retention" and dag["operator"] == "RetentionOperator" and dag["retries"] == 2
    assert dag["today"] == "{{ data_interval_end | ds }}"
    assert dag["command"][:6] == ["/path/to/project/python", "-m", "retail_pipeline.retention", "--env", "local", "--today"]
    assert dag["failure_callbacks"] == 1


@pytest.mark.airflow
def test_airflow_runs_retention(airflow_venv, pg_server, warehouse_template, loader_password, retailer_apis,
                                retailer_databases, tmp_path):
    """A triggered run with keep_days 5 removes a zone day of January and keeps one of March; audited."""
    wh = copy_warehouse(pg_server, warehouse_template, loader_password, prefix="retention_wh")
    try:
        conf = make_prod_conf(tmp_path / "project", wh, retailer_apis, retailer_databases)
        zone = conf.data / "01_raw"
        old = zone / "raw/retailer_1/year=2024/month=01/day=01/sales_data.json"
        kept = zone / "raw/retailer_1/year=2024/month=03/day=09/sales_data.json"
        for path in (old, kept):
            path.parent.mkdir(parents=True)
            path.write_text('{"transaction_id": "T1"}\n')
        run = AirflowRun(airflow_venv, tmp_path / "airflow-home", conf.conf)
        assert run.airflow("db", "migrate").returncode == 0
        result = run.airflow("dags", "test", DAG_ID, "2024-03-10", "-c", json.dumps({"keep_days": 5}), timeout=600)
        log = (result.stdout + result.stderr)[-6000:]
        assert result.returncode == 0, log
        assert not old.exists() and kept.exists(), log
        assert wh.query("SELECT kind, retailer_code, day::text, removed FROM retention_audit") == [
            ("zone_raw", "retailer_1", "2024-01-01", 1)]
    finally:
        pg_server.drop_database(wh.dbname)
