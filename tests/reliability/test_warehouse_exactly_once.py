"""Issue 9, the warehouse's part: exactly once under source changes (items 3, 4), loads the BI
role cannot block (item 8), failures that say what happened (item 7, warehouse).

Items 3 and 4 run the real pipeline (the Flask retailers over loopback, the raw zone, PostgreSQL)
and change the source between runs; items 7 and 8 drive the transformation pipeline against a
real PostgreSQL, with a second session holding locks or killing the load's backend (or the whole
server: SIGKILL). Every scenario ends with the accounting check.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from contextlib import closing

import psycopg2
import pytest
import yaml

from retailers.common.registry import RETAILERS
from tests.fixtures.kedro_project import PROJECT_ROOT
from tests.reliability.accounting import assert_accounted, duplicate_lines
from tests.transformation.conftest import sale, wh_project  # noqa: F401  (fixture)
from tests.transformation.exactly_once_checks import assert_ranges_cover, assert_saved, changes, marts_agree
from tests.fixtures.retailers import api_credentials

DAY = "2024-01-15"
ROWS_PER_DAY = 12


# -- helpers ------------------------------------------------------------------------------------
def last_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[-1]


def set_lock_timeout(project, timeout: str) -> None:
    name = "{retailer}.warehouse_star_schema"
    entry = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog_transformation.yml").read_text())[name]
    entry["save_args"]["lock_timeout"] = timeout
    project.write_yaml("local/catalog_transformation.yml", {name: entry})


def rows(n: int = 4, day: str = DAY, ingested_at: str = "2024-01-16T01:00:00Z") -> list[dict]:
    return [sale(f"retailer_{r}", f"R{r}-{i}", f"SKU-{i}", day, unit_price=10 + i, ingested_at=ingested_at)
            for r in (1, 2, 3) for i in range(n)]


def facts_now(wh) -> list[tuple]:
    return wh.query("SELECT retailer_id, transaction_id, date_id, total_amount, run_id FROM fact_sales ORDER BY 1, 2")


def terminate_load(pg_server, wh, run_id: str) -> None:
    """pg_terminate_backend of the load's backend (`retail_pipeline load <code> <run_id>`), from a
    superuser session; waits until it is gone."""
    with closing(pg_server.connect()) as conn, conn.cursor() as cur:
        conn.autocommit = True
        cur.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name ~ %s",
                    (wh.dbname, rf"^retail_pipeline load (\S+ )?{re.escape(run_id)}$"))
        assert [r[0] for r in cur.fetchall()] == [True], "the load's backend was not found"


def reader(pg_server, wh, application_name: str = "bi-dashboard"):
    pg_server.ensure_role("bi_reader", "reader-pw")
    return psycopg2.connect(pg_server.dsn(wh.dbname, "bi_reader", "reader-pw"), application_name=application_name)


# -- items 3 and 4 against the real retailers --------------------------------------------------
@pytest.fixture
def stack(kedro_project, warehouse, retailer_apis, retailer_databases, seed_retailers):
    """The project wired to the test retailers and a fresh warehouse; 2024-03-01..06 seeded."""
    seed_retailers("2024-03-01", "2024-03-06", rows_per_day=ROWS_PER_DAY, seed=9)
    kedro_project.write_yaml("local/credentials.yml", {
        "warehouse": {"con": warehouse.url},
        **{f"{code}_api": api_credentials(api)
           for code, api in retailer_apis.items()},
    })
    kedro_project.warehouse = warehouse
    kedro_project.sources = retailer_databases

    def run(run_date: str, run_id: str, lookback: int = 1, ingest: bool = True, **params):
        if ingest:
            kedro_project.run("ingestion", run_date=run_date, lookback_days=lookback, run_id=run_id)
        kedro_project.run("transformation", run_date=run_date, lookback_days=lookback, run_id=run_id, **params)

    def accounted(start: str, end: str):
        return assert_accounted(raw_root=kedro_project.data / "01_raw", warehouse_dsn=warehouse.dsn,
                                source_dsns=retailer_databases, start=start, end=end)

    kedro_project.run_window, kedro_project.accounted = run, accounted
    return kedro_project


def move_at_source(dsn: str, code: str, from_day: str, to_day: str) -> str:
    """Move the first transaction of `from_day` to the same time on `to_day`; returns its (trimmed) id."""
    spec = RETAILERS[code]
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute(f"""
            UPDATE {spec.table} SET {spec.ts_column} = {spec.ts_column} + (%(to)s::date - %(from)s::date) * interval '1 day'
            WHERE {spec.id_column} = (SELECT {spec.id_column} FROM {spec.table}
                                      WHERE {spec.ts_column} >= %(from)s::date AND {spec.ts_column} < %(from)s::date + 1
                                      ORDER BY {spec.ts_column}, {spec.id_column} LIMIT 1)
            RETURNING btrim({spec.id_column})""", {"from": from_day, "to": to_day})
        return cur.fetchone()[0]


def fact_days(wh, txn: str) -> list[int]:
    return [r[0] for r in wh.query("SELECT date_id FROM fact_sales WHERE transaction_id = %s ORDER BY 1", (txn,))]


def test_item3_a_transaction_corrected_into_another_window_is_one_fact(stack):
    wh = stack.warehouse
    stack.run_window("2024-03-02", "r1")  # window 03-01..03-02
    stack.run_window("2024-03-06", "r2")  # window 03-05..03-06
    # corrected at the source from outside the look-back window (03-02) into it (03-05)
    forward = move_at_source(stack.sources["retailer_1"], "retailer_1", "2024-03-02", "2024-03-05")
    stack.run_window("2024-03-06", "r3")
    assert fact_days(wh, forward) == [20240305]
    assert [c[:6] for c in changes(wh, "r3")] == [("r3", "retailer_1", forward, "moved", "2024-03-02", "2024-03-05")]
    stack.accounted("2024-03-05", "2024-03-06")
    # the same id on two days in different windows, the other way: back-dated into the first window
    backward = move_at_source(stack.sources["retailer_3"], "retailer_3", "2024-03-06", "2024-03-01")
    stack.run_window("2024-03-02", "r4")
    assert fact_days(wh, backward) == [20240301]
    assert [c[:6] for c in changes(wh, "r4")] == [("r4", "retailer_3", backward, "moved", "2024-03-06", "2024-03-01")]
    stack.accounted("2024-03-01", "2024-03-02")
    stack.run_window("2024-03-06", "r5")  # the second window's raw zone catches up: nothing moves
    assert changes(wh, "r5") == []
    stack.accounted("2024-03-05", "2024-03-06")
    assert_ranges_cover(wh)
    marts_agree(wh)


def test_item4_a_transaction_moved_out_of_the_window_is_recorded_not_lost(stack):
    wh = stack.warehouse
    stack.run_window("2024-03-02", "r1")
    gone = move_at_source(stack.sources["retailer_2"], "retailer_2", "2024-03-02", "2024-03-05")
    stack.run_window("2024-03-02", "r2")
    assert fact_days(wh, gone) == []
    assert [c[:6] for c in changes(wh, "r2")] == [("r2", "retailer_2", gone, "disappeared", "2024-03-02", None)]
    stack.accounted("2024-03-01", "2024-03-02")
    stack.run_window("2024-03-06", "r3")  # where the source has it now: loaded once
    assert fact_days(wh, gone) == [20240305]
    stack.accounted("2024-03-05", "2024-03-06")
    assert_ranges_cover(wh)


def test_item4_a_retailer_day_deleted_at_the_source_fails_the_run_until_accepted(stack):
    wh = stack.warehouse
    stack.run_window("2024-03-02", "r1")
    before = facts_now(wh)
    held = wh.scalar("SELECT count(*) FROM fact_sales WHERE retailer_id = 2 AND date_id = 20240302")
    assert held > 0
    spec = RETAILERS["retailer_2"]
    with closing(psycopg2.connect(stack.sources["retailer_2"])) as conn, conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM {spec.table} WHERE {spec.ts_column} >= '2024-03-02' AND {spec.ts_column} < '2024-03-03'")

    with pytest.raises(Exception) as refused:
        stack.run_window("2024-03-02", "r2")
    line = last_line(refused.value)
    assert f"retailer_2 2024-03-02 would lose {held} of its {held} facts (100%)" in line
    assert "--params accept_fact_loss=retailer_2:2024-03-02" in line
    # retailer_2's load is refused and leaves its facts as they were (each retailer loads on its
    # own: another retailer's load of the same run commits by its own outcome)
    assert [f for f in facts_now(wh) if f[0] == 2] == [f for f in before if f[0] == 2] and changes(wh) == []

    stack.run_window("2024-03-02", "r3", ingest=False, accept_fact_loss="retailer_2:2024-03-02")
    recorded = changes(wh, "r3")
    assert len(recorded) == held and {c[1:4:2] for c in recorded} == {("retailer_2", "disappeared")}
    stack.accounted("2024-03-01", "2024-03-02")
    assert_ranges_cover(wh)
    marts_agree(wh)


# -- item 8: bi_reader cannot block loads ------------------------------------------------------
def test_item8_bi_reader_holding_the_old_advisory_lock_does_not_block_a_load(wh_project, pg_server):
    wh = wh_project.warehouse
    set_lock_timeout(wh_project, "2s")
    data = rows()
    wh_project.raw.write(data)
    bi = reader(pg_server, wh)
    try:
        with bi.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(72501002)")  # any role may take an advisory lock
            cur.execute("SELECT * FROM load_lock")  # and read the lock row, in a transaction left open
        started = time.monotonic()
        wh_project.run("transformation", run_date=DAY, lookback_days=0, run_id="run-1")
        assert time.monotonic() - started < 30
    finally:
        bi.close()
    assert_saved(wh, data, DAY, DAY)


@pytest.mark.parametrize("attempt", [
    "SELECT * FROM load_lock WHERE scope = 'warehouse' FOR UPDATE",
    "SELECT * FROM load_lock FOR NO KEY UPDATE",
    "SELECT * FROM load_lock FOR SHARE",
    "SELECT * FROM load_lock FOR KEY SHARE",
    "LOCK TABLE load_lock IN ROW SHARE MODE",
    "LOCK TABLE load_lock IN ACCESS EXCLUSIVE MODE",
    "UPDATE load_lock SET scope = scope",
])
def test_item8_bi_reader_cannot_take_the_load_lock(warehouse, pg_server, attempt):
    bi = reader(pg_server, warehouse)
    try:
        with bi.cursor() as cur:
            cur.execute("SELECT scope FROM load_lock")  # it may read it
            assert cur.fetchall() == [("warehouse",)]
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(attempt)
    finally:
        bi.close()


def test_item8_loads_serialise_on_the_load_lock_and_a_timeout_names_the_holder(wh_project):
    """Loads of one retailer serialise on its load_lock row (scope = its code)."""
    wh = wh_project.warehouse
    set_lock_timeout(wh_project, "1s")
    data = rows()
    wh_project.raw.write(data)
    wh.query("INSERT INTO load_lock VALUES ('retailer_1'), ('retailer_2'), ('retailer_3') ON CONFLICT DO NOTHING")
    other = psycopg2.connect(wh.dsn, application_name="another load")
    try:
        with other.cursor() as cur:
            cur.execute("SELECT scope FROM load_lock WHERE scope = 'retailer_1' FOR UPDATE")
            pid = other.get_backend_pid()
        with pytest.raises(Exception) as waited:
            wh_project.run("transformation", run_date=DAY, lookback_days=0, run_id="run-1")
        line = last_line(waited.value)
        assert "lock timeout after 1s" in line and "while running `SELECT scope FROM load_lock WHERE scope" in line
        assert f"pid {pid} (user retail_loader, application_name 'another load', idle in transaction" in line
        # a load that waits for the lock runs once the other one ends
        set_lock_timeout(wh_project, "30s")
        threading.Timer(1.0, other.rollback).start()
        started = time.monotonic()
        wh_project.run("transformation", run_date=DAY, lookback_days=0, run_id="run-2")
        assert time.monotonic() - started >= 0.9  # it waited for the other load
    finally:
        other.close()
    assert_saved(wh, data, DAY, DAY)


# -- item 7: the last line names the real cause ------------------------------------------------
@pytest.fixture
def loaded(wh_project):
    """run-1 loaded; the raw zone then changes (one more sale a day), so a rerun has work to do."""
    wh_project.raw.write(rows(3, "2024-01-14") + rows(3))
    wh_project.run("transformation", run_date=DAY, lookback_days=1, run_id="run-1")
    wh_project.before = facts_now(wh_project.warehouse)
    wh_project.next_rows = rows(4, "2024-01-14") + rows(4)
    wh_project.raw.write(wh_project.next_rows)
    return wh_project


def inject(monkeypatch, at: str, action) -> None:
    from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset

    original = PostgresStarSchemaDataset._step

    def step(self, name):
        original(self, name)
        if name == at:
            action()

    monkeypatch.setattr(PostgresStarSchemaDataset, "_step", step)


@pytest.mark.parametrize("at", ["copy 20240115", "keys: window diff", "attach 20240114"])
def test_item7_backend_killed_mid_load_says_the_server_closed_the_connection(loaded, pg_server, monkeypatch, at):
    wh = loaded.warehouse
    inject(monkeypatch, at, lambda: terminate_load(pg_server, wh, "run-2"))
    with pytest.raises(Exception) as failed:
        loaded.run("transformation", run_date=DAY, lookback_days=1, run_id="run-2")
    line = last_line(failed.value)
    cause = line.split("the server closed the connection (")[1]
    assert cause.startswith(("terminating connection due to administrator command", "server closed the connection unexpectedly"))
    assert f"after step '{at}'" in line and "rolled the load back" in line
    assert "connection already closed" not in line
    assert facts_now(wh) == loaded.before
    monkeypatch.undo()
    loaded.run("transformation", run_date=DAY, lookback_days=1, run_id="run-3")
    assert_saved(wh, loaded.next_rows, "2024-01-14", DAY)


def test_item7_connection_lost_during_commit_says_the_outcome_is_unknown(loaded, pg_server, monkeypatch):
    wh = loaded.warehouse
    inject(monkeypatch, "ready to commit", lambda: terminate_load(pg_server, wh, "run-2"))
    with pytest.raises(Exception) as failed:
        loaded.run("transformation", run_date=DAY, lookback_days=1, run_id="run-2")
    line = last_line(failed.value)
    assert "lost during COMMIT" in line and "the outcome is unknown" in line
    assert "Rerun the same command" in line and "a rerun is the repair" in line
    xid = int(line.split("txid_status(")[1].split(")")[0])
    assert wh.scalar("SELECT txid_status(%s)", (xid,)) == "aborted"  # the hint works
    monkeypatch.undo()
    loaded.run("transformation", run_date=DAY, lookback_days=1, run_id="run-3")
    assert_saved(wh, loaded.next_rows, "2024-01-14", DAY)


@pytest.mark.parametrize("stats_visible", [True, False])
def test_item7_lock_timeout_names_the_lock_and_its_holder(loaded, pg_server, stats_visible):
    wh = loaded.warehouse
    set_lock_timeout(loaded, "2s")
    with closing(pg_server.connect()) as su, su.cursor() as cur:
        su.autocommit = True
        cur.execute("SELECT pg_has_role('retail_loader', 'pg_read_all_stats', 'MEMBER')")
        had = cur.fetchone()[0]
        cur.execute(f"{'GRANT' if stats_visible else 'REVOKE'} pg_read_all_stats {'TO' if stats_visible else 'FROM'} retail_loader")
    bi = reader(pg_server, wh, "bi-dashboard")
    try:
        with bi.cursor() as cur:
            cur.execute("SELECT count(*) FROM fact_sales")  # a BI transaction left open holds its lock
        with pytest.raises(Exception) as failed:
            loaded.run("transformation", run_date=DAY, lookback_days=1, run_id="run-2")
        line = last_line(failed.value)
        assert "lock timeout after 2s" in line and "AccessExclusiveLock on table fact_sales" in line
        assert f"held by pid {bi.get_backend_pid()} (user bi_reader, application_name 'bi-dashboard', " in line
        if stats_visible:
            assert "idle in transaction, query started " in line and "SELECT count(*) FROM fact_sales" in line
        else:
            assert "state hidden: grant pg_read_all_stats" in line
        assert facts_now(wh) == loaded.before
    finally:
        bi.close()
        with closing(pg_server.connect()) as su, su.cursor() as cur:
            su.autocommit = True
            cur.execute(f"{'GRANT' if had else 'REVOKE'} pg_read_all_stats {'TO' if had else 'FROM'} retail_loader")
    loaded.run("transformation", run_date=DAY, lookback_days=1, run_id="run-3")
    assert_saved(wh, loaded.next_rows, "2024-01-14", DAY)


@pytest.mark.parametrize("at", ["copy 20240115", "ready to commit"])
def test_item7_server_killed_mid_load_or_at_commit(crashable_pg, kedro_project, monkeypatch, at):
    """SIGKILL of the whole cluster (postmaster first) at a step of the load."""
    from tests.transformation.conftest import RawZone

    wh = crashable_pg.warehouse()
    kedro_project.write_yaml("local/credentials.yml", {"warehouse": {"con": wh.url}})
    raw = RawZone(kedro_project.data / "01_raw")
    raw.write(rows(3))
    kedro_project.run("transformation", run_date=DAY, lookback_days=0, run_id="run-1")
    before = facts_now(wh)
    raw.write(rows(5))
    crashable_pg.arm()
    inject(monkeypatch, at, crashable_pg.crash)
    try:
        with pytest.raises(Exception) as failed:
            kedro_project.run("transformation", run_date=DAY, lookback_days=0, run_id="run-2")
    finally:
        crashable_pg.restart()
    line = last_line(failed.value)
    assert "connection already closed" not in line
    if at == "ready to commit":
        assert "lost during COMMIT" in line and "outcome is unknown" in line and "a rerun is the repair" in line
    else:
        assert "the server closed the connection (server closed the connection unexpectedly" in line
        assert "rolled the load back" in line
    assert facts_now(wh) == before
    monkeypatch.undo()
    kedro_project.run("transformation", run_date=DAY, lookback_days=0, run_id="run-3")
    assert_saved(wh, rows(5), DAY, DAY)
    assert duplicate_lines(wh.dsn) == []
