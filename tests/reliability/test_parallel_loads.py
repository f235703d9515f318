"""Issue 11, section 3, against the real retailers: each retailer's load runs as its own process
(`kedro run --pipeline transformation --namespaces <code>`, as the Airflow DAG's `<code>.load`
tasks do), all at once; a retailer whose load fails holds back no other's facts. In one process,
`kedro run --runner ThreadRunner` stages and loads the retailers at once (the benchmark's
`--transform-runner ThreadRunner`). Every scenario ends with the accounting check."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import closing

import psycopg2

from retailers.common.registry import RETAILERS as STYLES
from tests.fixtures.kedro_project import PROJECT_ROOT, RETAILERS
from tests.reliability.accounting import assert_accounted
from tests.reliability.test_warehouse_exactly_once import fact_days, move_at_source, stack  # noqa: F401  (fixture)
from tests.transformation.exactly_once_checks import assert_ranges_cover, changes, marts_agree

CODES = list(RETAILERS)


def load_all(project, run_date: str, run_id: str, **params) -> dict[str, subprocess.CompletedProcess]:
    """One `kedro run` process per retailer's load, started together; their results."""
    args = ",".join(f"{k}={v}" for k, v in {"run_date": run_date, "lookback_days": 1, "run_id": run_id,
                                              **params}.items())
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
           "KEDRO_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}
    procs = {code: subprocess.Popen(
        [sys.executable, "-m", "kedro", "run", "--pipeline", "transformation", "--namespaces", code,
         "--env", "local", "--conf-source", str(project.conf), "--params", args],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for code in CODES}
    results = {}
    for code, proc in procs.items():
        out, _ = proc.communicate(timeout=900)
        results[code] = subprocess.CompletedProcess(proc.args, proc.returncode, out, "")
    return results


def accounted(project, start: str, end: str, retailers=None) -> None:
    assert_accounted(raw_root=project.data / "01_raw", warehouse_dsn=project.warehouse.dsn,
                     source_dsns=project.sources, start=start, end=end, retailers=retailers,
                     styles={code: entry["simulator"]["style"] for code, entry in RETAILERS.items()})


def run_ids(wh) -> dict[str, set]:
    rows = wh.query("SELECT r.retailer_code, f.run_id FROM fact_sales f JOIN dim_retailer r USING (retailer_id) "
                    "WHERE f.date_id BETWEEN 20240301 AND 20240302 GROUP BY 1, 2")
    out: dict[str, set] = {}
    for code, run_id in rows:
        out.setdefault(code, set()).add(run_id)
    return out


def test_retailers_load_in_parallel_processes_and_a_failed_one_holds_back_no_other(stack):  # noqa: F811
    wh = stack.warehouse
    stack.run("ingestion", run_date="2024-03-02", lookback_days=1, run_id="p1")
    results = load_all(stack, "2024-03-02", "p1")
    assert all(r.returncode == 0 for r in results.values()), {c: r.stdout[-3000:] for c, r in results.items()}
    assert run_ids(wh) == {code: {"p1"} for code in CODES}
    accounted(stack, "2024-03-01", "2024-03-02")

    # retailer_2's source drops a whole day: its reload is refused (loss guard), the others reload
    failing = "retailer_2"
    spec = STYLES[RETAILERS[failing]["simulator"]["style"]]
    with closing(psycopg2.connect(stack.sources[failing])) as conn, conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM {spec.table} WHERE {spec.ts_column} >= '2024-03-02' AND {spec.ts_column} < '2024-03-03'")
    stack.run("ingestion", run_date="2024-03-02", lookback_days=1, run_id="p2")
    results = load_all(stack, "2024-03-02", "p2")
    assert results[failing].returncode != 0
    assert f"Warehouse load of {failing}" in results[failing].stdout and "refused" in results[failing].stdout
    for code in CODES:
        if code != failing:
            assert results[code].returncode == 0, results[code].stdout[-3000:]
    assert run_ids(wh) == {code: ({"p1"} if code == failing else {"p2"}) for code in CODES}
    accounted(stack, "2024-03-01", "2024-03-02", retailers=[c for c in CODES if c != failing])
    assert_ranges_cover(wh)
    marts_agree(wh)

    # the operator accepts the loss: the retailer's load alone, the accounting holds for all
    results = load_all(stack, "2024-03-02", "p3", accept_fact_loss=f"{failing}:2024-03-02")
    assert all(r.returncode == 0 for r in results.values()), {c: r.stdout[-3000:] for c, r in results.items()}
    accounted(stack, "2024-03-01", "2024-03-02")
    assert_ranges_cover(wh)
    marts_agree(wh)


def facts_of(wh) -> list[tuple]:
    return wh.query("SELECT retailer_id, transaction_id, product_id, date_id, quantity, total_amount "
                    "FROM fact_sales ORDER BY 1, 2")


def test_under_threadrunner_the_retailers_load_at_once_exactly_once_and_a_rerun_changes_nothing(stack):  # noqa: F811
    wh = stack.warehouse

    def run_threaded(run_date: str, run_id: str) -> None:
        stack.run("ingestion", run_date=run_date, lookback_days=1, run_id=run_id)
        stack.run("transformation", runner="ThreadRunner", run_date=run_date, lookback_days=1, run_id=run_id)

    run_threaded("2024-03-02", "t1")
    assert run_ids(wh) == {code: {"t1"} for code in CODES}
    accounted(stack, "2024-03-01", "2024-03-02")

    # a sale corrected at the source from a loaded day outside the next window into it: one copy
    moved = move_at_source(stack.sources["retailer_1"], "retailer_1", "2024-03-01", "2024-03-03")
    run_threaded("2024-03-03", "t2")
    assert fact_days(wh, moved) == [20240303]
    assert [c[:6] for c in changes(wh, "t2")] == [("t2", "retailer_1", moved, "moved", "2024-03-01", "2024-03-03")]
    loaded = facts_of(wh)
    run_threaded("2024-03-03", "t3")  # the same date again: nothing changes
    assert facts_of(wh) == loaded and changes(wh, "t3") == []
    accounted(stack, "2024-03-02", "2024-03-03")
    assert_ranges_cover(wh)
    marts_agree(wh)
