"""The generated Airflow DAG: committed as generated, shaped like the pipelines, and run for
real by Airflow 3 (its own virtualenv) against the test stack with `airflow dags test`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.kedro_project import RETAILERS
from tests.fixtures.retailers import api_credentials

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "airflow" / "dags" / "retail_pipeline_dag.py"
DAG_ID = "retail_data_pipeline"
CODES = list(RETAILERS)  # the registry, conf/base/retailers.yml: one task group each
EXTRACTIONS = [f"{code}.extract" for code in CODES]
LOADS = [f"{code}.load" for code in CODES]

# Run inside the Airflow venv: parse the DAG folder with Airflow's own DagBag and describe it.
DESCRIBE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
if bag.import_errors:
    raise SystemExit("import errors: %r" % bag.import_errors)
dag = bag.dags[sys.argv[2]]
tasks = {}
for task in dag.tasks:
    tasks[task.task_id] = {
        "operator": type(task).__name__,
        "pipeline": task.pipeline,
        "namespaces": task.namespaces,
        "upstream": sorted(task.upstream_task_ids),
        "trigger_rule": str(getattr(task.trigger_rule, "value", task.trigger_rule)),
        "group": task.task_group.group_id if task.task_group else None,
        "run_date": task.run_date,
        "run_id": task.kedro_run_id,
        "retries": task.retries,
        "retry_delay_s": task.retry_delay.total_seconds(),
        "command": task.command(),
    }
print(json.dumps({
    "dag_id": dag.dag_id,
    "timetable": type(dag.timetable).__name__,
    "cron": dag.timetable.expression,
    "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "tasks": tasks,
}))
"""


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "PYTEST_", "KEDRO_", "RETAIL_DAG_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "KEDRO_DISABLE_TELEMETRY": "true",
    })
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dag_description(airflow_venv, tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("airflow-describe")
    result = subprocess.run(
        [str(airflow_venv / "bin" / "python"), "-c", DESCRIBE, str(DAG_FILE.parent), DAG_ID],
        env=airflow_env(home, KEDRO_PYTHON="/path/to/project/python"),
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_committed_dag_is_what_kedro_airflow_generates(tmp_path):
    """Regenerate with the same command into a temp dir: the committed file must be identical."""
    result = subprocess.run(
        ["bash", str(ROOT / "airflow" / "generate_dag.sh"), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "KEDRO": str(Path(sys.executable).parent / "kedro")},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    generated = tmp_path / DAG_FILE.name
    assert generated.exists(), sorted(p.name for p in tmp_path.iterdir())
    assert generated.read_text() == DAG_FILE.read_text(), (
        "airflow/dags/retail_pipeline_dag.py is stale: run airflow/generate_dag.sh and commit it"
    )


def test_dag_shape_schedule_and_retries(dag_description):
    dag = dag_description
    assert dag["dag_id"] == DAG_ID
    assert dag["timetable"] == "CronDataIntervalTimetable"   # logical date = the day loaded
    assert dag["cron"] == "0 2 * * *"
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    tasks = dag["tasks"]
    assert set(tasks) == {*EXTRACTIONS, *LOADS, "quality"}
    for code, extract, load in zip(CODES, EXTRACTIONS, LOADS, strict=True):
        assert tasks[extract]["group"] == tasks[load]["group"] == code   # one task group per retailer
        assert tasks[extract]["pipeline"] == "ingestion" and tasks[extract]["namespaces"] == [code]
        assert tasks[extract]["upstream"] == []                  # the groups run in parallel
        assert tasks[load]["pipeline"] == "transformation" and tasks[load]["namespaces"] == [code]
        assert tasks[load]["upstream"] == [extract]               # its own extraction only
        assert tasks[extract]["trigger_rule"] == tasks[load]["trigger_rule"] == "all_success"
    assert tasks["quality"]["upstream"] == sorted(LOADS)
    assert tasks["quality"]["trigger_rule"] == "all_done"        # runs even when a retailer failed
    for task in tasks.values():
        assert task["operator"] == "KedroRunOperator"
        assert task["run_date"] == "{{ ds }}" and task["run_id"] == "{{ run_id }}"
        assert task["retries"] == 2 and task["retry_delay_s"] == 300
        assert task["command"][:4] == ["/path/to/project/python", "-m", "kedro", "run"]
        assert task["command"][-2:] == ["--params", "run_date={{ ds }},run_id={{ run_id }}"]


def test_tasks_cover_every_node_once_and_share_no_memory(dag_description, kedro_project):
    """Each node runs in exactly one task; data passed between tasks is persisted."""
    from kedro.framework.project import configure_project, pipelines
    from kedro.framework.session import KedroSession
    from kedro_airflow.grouping import _is_memory_dataset

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=ROOT, conf_source=str(kedro_project.conf)) as session:
        catalog = session.load_context().catalog

    owner: dict[str, str] = {}
    for task_id, task in dag_description["tasks"].items():
        pipe = pipelines[task["pipeline"]]
        if task["namespaces"]:
            pipe = pipe.only_nodes_with_namespaces(task["namespaces"])
        assert pipe.nodes, f"{task_id} would run no node"
        for node in pipe.nodes:
            assert node.name not in owner, f"{node.name} runs in {owner.get(node.name)} and {task_id}"
            owner[node.name] = task_id
    every = {node.name for node in pipelines["__default__"].nodes}
    assert set(owner) == every, f"nodes in no task: {sorted(every - set(owner))}"

    by_name = {node.name: node for node in pipelines["__default__"].nodes}
    producer = {out: owner[n.name] for n in by_name.values() for out in n.outputs}
    for name, node in by_name.items():
        for dataset in node.inputs:
            if dataset in producer and producer[dataset] != owner[name]:
                assert not _is_memory_dataset(catalog, dataset), (
                    f"{dataset} goes from task {producer[dataset]} to {owner[name]} in memory"
                )


# -- real Airflow ---------------------------------------------------------------------------
class AirflowRun:
    def __init__(self, venv: Path, home: Path, conf: Path):
        self.venv, self.home, self.conf = venv, home, conf

    def env(self) -> dict[str, str]:
        return airflow_env(
            self.home,
            KEDRO_PROJECT_PATH=str(ROOT),
            KEDRO_PYTHON=sys.executable,            # the project's interpreter
            KEDRO_CONF_SOURCE=str(self.conf),
            KEDRO_ENV="local",
            RETAIL_DAG_RETRY_DELAY_MINUTES="0.05",   # keep the real retries, not their wait
        )

    def airflow(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.venv / "bin" / "airflow"), *args], env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def dags_test(self, day: str) -> subprocess.CompletedProcess:
        result = self.airflow("dags", "test", DAG_ID, day, timeout=1200)
        (self.home / f"dags-test-{day}.log").write_text(result.stdout + result.stderr)
        return result

    def task_states(self, day: str) -> dict[str, tuple[str, int]]:
        with sqlite3.connect(self.home / "airflow.db") as db:
            rows = db.execute(
                """SELECT ti.task_id, ti.state, ti.try_number FROM task_instance ti
                   JOIN dag_run dr ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id
                   WHERE ti.dag_id = ? AND date(dr.logical_date) = ?""", (DAG_ID, day)).fetchall()
        return {task: (state, tries) for task, state, tries in rows}

    def run_id(self, day: str) -> str:
        with sqlite3.connect(self.home / "airflow.db") as db:
            return db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? AND date(logical_date) = ?",
                              (DAG_ID, day)).fetchone()[0]


@pytest.fixture(scope="module")
def airflow_run(airflow_venv, prod_conf, tmp_path_factory) -> AirflowRun:
    home = tmp_path_factory.mktemp("airflow-home")
    run = AirflowRun(airflow_venv, home, prod_conf.conf)
    result = run.airflow("db", "migrate")
    assert result.returncode == 0, result.stderr[-4000:]
    return run


def _failure(result: subprocess.CompletedProcess, run: AirflowRun, day: str) -> str:
    return (f"airflow dags test {day} exited {result.returncode}; states {run.task_states(day)}\n"
            f"log: {run.home}/dags-test-{day}.log\n{(result.stdout + result.stderr)[-8000:]}")


@pytest.mark.airflow
def test_airflow_runs_the_dag_for_a_day(airflow_run, prod_warehouse, seed_days):
    day = "2024-03-14"
    seed_days("2024-03-11", day, rows_per_day=40, bad_fraction=0.02)
    result = airflow_run.dags_test(day)
    states = airflow_run.task_states(day)
    assert result.returncode == 0, _failure(result, airflow_run, day)
    assert states and all(state == "success" for state, _ in states.values()), _failure(result, airflow_run, day)
    assert set(states) == {*EXTRACTIONS, *LOADS, "quality"}

    # The warehouse holds the day, for every retailer, stamped with the Airflow run id.
    run_id = airflow_run.run_id(day)
    loaded = dict(prod_warehouse.query(
        """SELECT r.retailer_code, count(*) FROM fact_sales f JOIN dim_retailer r USING (retailer_id)
           WHERE f.date_id = 20240314 GROUP BY 1"""))
    assert set(loaded) == set(CODES) and min(loaded.values()) > 0
    assert prod_warehouse.query("SELECT DISTINCT run_id FROM fact_sales WHERE date_id = 20240314") == [(run_id,)]
    audited = prod_warehouse.query(
        "SELECT count(DISTINCT retailer_code) FROM load_audit WHERE sale_date = '2024-03-14' AND run_id = %s",
        (run_id,))
    assert audited == [(len(CODES),)]
    checks = prod_warehouse.query(
        "SELECT count(*), bool_and(passed OR severity <> 'critical') FROM dq_check_results "
        "WHERE run_id = %s AND run_date = '2024-03-14'", (run_id,))
    assert checks[0][0] > 0 and checks[0][1] is True


@pytest.mark.airflow
def test_critical_quality_failure_fails_the_quality_task(airflow_run, prod_warehouse, seed_days):
    """The last retailer sends nothing for the window: its volume check is critical, so the
    quality task fails (once: a data verdict is not retried) after extraction and load succeeded."""
    day = "2024-04-09"
    silent = CODES[-1]
    seed_days("2024-04-06", day, rows_per_day=30, retailers=CODES[:-1])
    result = airflow_run.dags_test(day)
    states = airflow_run.task_states(day)
    assert result.returncode != 0, _failure(result, airflow_run, day)
    assert states["quality"] == ("failed", 1), _failure(result, airflow_run, day)
    for task_id in (*EXTRACTIONS, *LOADS):
        assert states[task_id][0] == "success", _failure(result, airflow_run, day)
    assert "DataQualityError" in result.stdout + result.stderr
    failed = prod_warehouse.query(
        "SELECT retailer_code, check_name FROM dq_check_results WHERE run_id = %s AND NOT passed "
        "AND severity = 'critical'", (airflow_run.run_id(day),))
    assert (silent, "volume_rows") in failed


@pytest.mark.airflow
def test_a_failed_extraction_holds_back_no_other_retailer_and_quality_names_it(
        airflow_venv, prod_warehouse, prod_conf, retailer_apis, seed_days, tmp_path_factory):
    """One retailer's API refuses the credentials: its extraction fails (its load does not run),
    every other retailer is extracted and loaded, and quality still runs (all_done) and fails
    naming the retailer, after storing every retailer's results and writing the report."""
    day = "2024-05-07"
    broken = CODES[0]
    seed_days("2024-05-04", day, rows_per_day=30)
    conf = tmp_path_factory.mktemp("airflow-broken-conf")
    import shutil

    shutil.copytree(prod_conf.conf, conf / "conf")
    credentials = {f"{broken}_api": {**api_credentials(retailer_apis[broken]),
                                     **{k: "wrong-secret" for k in ("api_key", "client_secret")
                                        if k in retailer_apis[broken]}}}
    import yaml

    path = conf / "conf" / "local" / "credentials.yml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **credentials}, sort_keys=False))
    run = AirflowRun(airflow_venv, tmp_path_factory.mktemp("airflow-home-broken"), conf / "conf")
    assert run.airflow("db", "migrate").returncode == 0
    result = run.dags_test(day)
    states = run.task_states(day)
    assert result.returncode != 0, _failure(result, run, day)
    assert states[f"{broken}.extract"][0] == "failed", _failure(result, run, day)
    assert states[f"{broken}.load"][0] == "upstream_failed", _failure(result, run, day)
    for code in CODES[1:]:
        assert states[f"{code}.extract"][0] == states[f"{code}.load"][0] == "success", _failure(result, run, day)
    # a data verdict, tried once (a quality run that crashed on the missing manifest was retried)
    assert states["quality"] == ("failed", 1), _failure(result, run, day)
    loaded = dict(prod_warehouse.query(
        """SELECT r.retailer_code, count(*) FROM fact_sales f JOIN dim_retailer r USING (retailer_id)
           WHERE f.date_id = 20240507 AND f.run_id = %s GROUP BY 1""", (run.run_id(day),)))
    assert set(loaded) == set(CODES[1:])            # the others' facts are in
    log = (run.home / f"dags-test-{day}.log").read_text()
    named = [line for line in log.splitlines() if "no ingestion manifest" in line]
    assert named and all(broken in line for line in named), _failure(result, run, day)  # quality names it
    assert any(f"reconciliation_source {broken}: no ingestion manifest for {broken}" in line
               for line in named), _failure(result, run, day)  # the gate's summary, not a crash
    # the quality results of the run: the other retailers checked as on any day, and clean
    results = prod_warehouse.query(
        "SELECT retailer_code, check_name, severity, passed FROM dq_check_results WHERE run_id = %s",
        (run.run_id(day),))
    checked = {(code, check) for code, check, _, passed in results if passed}
    for code in CODES[1:]:
        assert {(code, "reconciliation_source"), (code, "reconciliation_source_ids")} <= checked, results
    critical = {(code, check) for code, check, severity, passed in results if severity == "critical" and not passed}
    assert {code for code, _ in critical} == {broken}, critical
    assert {(broken, "reconciliation_source"), (broken, "reconciliation_source_ids")} <= critical
    report = prod_conf.data / "08_reporting" / f"dq_report_{day}.html"
    assert f"no ingestion manifest for {broken}" in report.read_text()
