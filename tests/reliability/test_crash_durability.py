"""Issue 9, item 1: a warehouse load that reported success survives a crash of PostgreSQL.

The window is extracted from the real retailer APIs by the ingestion pipeline, the transformation
nodes build the load from the raw zone, and `PostgresStarSchemaDataset.save` writes it to a
cluster of the test's own (same settings as the local stack). The moment save() returns, the
postmaster and all its processes are SIGKILLed (no shutdown checkpoint, no WAL flush), the
cluster restarts through crash recovery, and every fact of the load must be there. With
`synchronous_commit = off` anywhere on that path the commit record is still in memory when the
kill lands and the whole load is gone (seen: 0 of 852 facts back, in the first round).
"""

from __future__ import annotations

import time
from contextlib import closing
from datetime import date, timedelta
from decimal import Decimal

import psycopg2
import pytest

from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset
from retail_pipeline.pipelines.transformation.nodes import build_star_schema, stage_sales
from tests.fixtures.kedro_project import PROJECT_ROOT
from tests.reliability.accounting import assert_accounted
from tests.fixtures.retailers import api_credentials

RUN_DATE = date(2024, 5, 20)
LOOKBACK = 1
START = RUN_DATE - timedelta(days=LOOKBACK)
ROUNDS = 3               # loads, each followed by a crash
DEADLINE_S = 240         # for all rounds together
DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")


@pytest.fixture
def window_load(kedro_project, retailer_apis, retailer_databases, seed_retailers):
    """The window extracted by the ingestion pipeline, and the load the transformation builds."""
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    seed_retailers(START, RUN_DATE, rows_per_day=150, bad_fraction=0.05, seed=91)
    kedro_project.write_yaml("local/credentials.yml", {
        f"{code}_api": api_credentials(api)
        for code, api in retailer_apis.items()})
    params = {"run_date": RUN_DATE.isoformat(), "lookback_days": LOOKBACK}
    kedro_project.run("ingestion", **params)

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=PROJECT_ROOT, env="local", conf_source=str(kedro_project.conf),
                             runtime_params=params) as session:
        catalog = session.load_context().catalog
        raw = [catalog.load(f"{code}.raw_sales").to_frame() for code in retailer_apis]
        retailers = catalog.load("params:retailers")
        warehouse = catalog.load("params:warehouse")
    staged, quarantine = stage_sales(retailers, RUN_DATE.isoformat(), LOOKBACK, "crash-load", *raw)
    load = build_star_schema(staged, quarantine, retailers, warehouse, RUN_DATE.isoformat(), LOOKBACK,
                             "crash-load")
    assert len(load["facts"]) > 500
    assert list((kedro_project.data / "01_raw" / "quarantine").rglob("*.json"))  # bad rows held at ingestion
    return kedro_project.data / "01_raw", load


def _facts(dsn: str) -> tuple[int, Decimal, int]:
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), coalesce(sum(total_amount), 0), "
                    "count(DISTINCT (retailer_id, transaction_id, product_id)) FROM fact_sales")
        return cur.fetchone()


def test_an_acknowledged_load_survives_sigkill_of_postgres(crashable_pg, window_load, retailer_databases):
    raw_root, load = window_load
    expected_rows = len(load["facts"])
    expected_money = sum((Decimal(str(v)) for v in load["facts"]["total_amount"]), Decimal("0")).quantize(Decimal("0.01"))
    deadline = time.monotonic() + DEADLINE_S
    earlier = []
    for round_ in range(1, ROUNDS + 1):
        assert time.monotonic() < deadline, f"only {round_ - 1} of {ROUNDS} rounds within {DEADLINE_S}s"
        wh = crashable_pg.warehouse()
        dataset = PostgresStarSchemaDataset(credentials={"con": wh.url})
        load["run_id"] = f"crash-load-{round_}"
        crashable_pg.arm()
        dataset.save(load)                      # acknowledged: the commit returned
        killed = crashable_pg.crash()           # at once: SIGKILL the postmaster and its processes
        crashable_pg.restart()                  # crash recovery, as `make up` would do it

        rows, money, distinct = _facts(wh.dsn)
        assert (rows, money) == (expected_rows, expected_money), (
            f"round {round_}: after SIGKILL of {killed} the acknowledged load of {expected_rows} facts "
            f"({expected_money}) came back as {rows} facts ({money})")
        assert distinct == rows, f"round {round_}: a (retailer, transaction, product) line twice"
        assert wh.scalar("SELECT count(*) FROM load_audit WHERE run_id = %s", (load["run_id"],)) > 0
        assert_accounted(raw_root=raw_root, warehouse_dsn=wh.dsn, source_dsns=retailer_databases,
                         start=START, end=RUN_DATE)
        for n, older in enumerate(earlier, start=1):  # loads built without WAL survive later crashes too
            assert _facts(older.dsn) == (expected_rows, expected_money, expected_rows), (
                f"the load of round {n} changed after the crash of round {round_}")
        earlier.append(wh)


def test_the_stack_server_keeps_durable_settings(crashable_pg):
    """The stack's server settings (LocalPostgres) leave fsync, synchronous_commit and
    full_page_writes on, also for the loader in the warehouse database (no role/database override)."""
    wh = crashable_pg.warehouse()
    with closing(psycopg2.connect(wh.dsn)) as conn, conn.cursor() as cur:
        for name in DURABILITY:
            cur.execute(f"SHOW {name}")
            assert cur.fetchone()[0] == "on", name
