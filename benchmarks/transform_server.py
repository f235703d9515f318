"""The transformation benchmark's servers and timed runs: its own PostgreSQL, a bare COPY, the
dataset's save, the three retailers' loads one after the other and at once, and the whole
`transformation` pipeline in a process of its own (so its peak memory is its own)."""

from __future__ import annotations

import logging
import os
import queue
import secrets
import shutil
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import psycopg2
import yaml

from benchmarks.common import PROJECT_ROOT, peak_rss_mb
from benchmarks.transform_data import DAY, WAREHOUSE_COLUMNS

LOADER = "retail_loader"


def pipeline_in_child(workdir: Path, raw_zone: Path, url: str, runner: str = "SequentialRunner") -> tuple[float, float]:
    """(seconds, peak RSS MB) of the `transformation` pipeline run in a fresh process, so its
    peak memory is its own, not the benchmark's (which holds the rows it generated)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_pipeline_child, args=(str(workdir), str(raw_zone), url, results, runner))
    child.start()
    while True:
        try:
            seconds, rss, error = results.get(timeout=5)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the transformation pipeline's process died (exit code {child.exitcode})") from None
    child.join()
    if error:
        raise RuntimeError(f"the transformation pipeline failed in the child process: {error}")
    return seconds, rss


def _pipeline_child(workdir: str, raw_zone: str, url: str, results, runner: str) -> None:
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    logging.getLogger("kedro").setLevel(logging.WARNING)
    try:
        seconds = run_kedro_transformation(Path(workdir), Path(raw_zone), url, runner)
        results.put((seconds, own_peak_rss_mb(), None))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        results.put((0.0, own_peak_rss_mb(), f"{type(exc).__name__}: {exc}"))


def own_peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM (reset by exec), not ru_maxrss, which a spawned child
    inherits from the parent it was forked from."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


# -- warehouse ------------------------------------------------------------------------------
class Server:
    def __init__(self, workdir: Path):
        from retail_pipeline.devstack.postgres import LocalPostgres, free_port

        self.pg = LocalPostgres(workdir / "pgdata", free_port(), secrets.token_urlsafe(16))
        self.password = secrets.token_urlsafe(12)

    def __enter__(self):
        self.pg.start()
        self.pg.ensure_role(LOADER, self.password, createrole=True)
        return self

    def __exit__(self, *exc):
        self.pg.stop()

    def fresh_warehouse(self, name: str) -> str:
        from retail_pipeline.warehouse.migrate import apply_migrations

        self.pg.drop_database(name)
        self.pg.ensure_database(name, owner=LOADER)
        url = self.pg.url(name, LOADER, self.password)
        apply_migrations(url)
        return url

    def clone_warehouse(self, template: str, name: str) -> str:
        """A copy of the warehouse `template` (its files, statistics and hint bits as they are)."""
        from psycopg2 import sql

        self.pg.drop_database(name)
        with closing(self.pg.connect()) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template), sql.Identifier(LOADER)))
        return self.pg.url(name, LOADER, self.password)

    def dsn(self, name: str) -> str:
        return self.pg.dsn(name, LOADER, self.password)


def bare_copy_seconds(dsn: str, rows: pd.DataFrame) -> float:
    from psycopg2 import sql

    from retail_pipeline.warehouse.pgcopy import copy_frame

    frame = rows[WAREHOUSE_COLUMNS]
    with closing(psycopg2.connect(dsn)) as conn:
        start = time.perf_counter()
        with conn, conn.cursor() as cur:
            cur.execute("""CREATE TABLE bare_copy (retailer_code text, transaction_id text, product_sku text,
                product_name text, category text, quantity integer, unit_price numeric(12,2),
                total_amount numeric(14,2), discount_percentage numeric(5,2), tax_amount numeric(12,2),
                shipping_cost numeric(12,2), transaction_ts timestamptz, sale_date date, customer_id text,
                store_id text)""")
            copy_frame(cur, sql.Identifier("bare_copy"), frame, WAREHOUSE_COLUMNS)
        elapsed = time.perf_counter() - start
        with conn, conn.cursor() as cur:
            cur.execute("DROP TABLE bare_copy")
    return elapsed


def parallel_loads(server: "Server", loads: dict[str, dict]) -> tuple[float, float]:
    """(seconds for the retailers' loads one after the other, seconds for the same loads saved at
    once from one thread each), each into its own empty warehouse."""
    import threading

    from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset

    url = server.fresh_warehouse("bench_sequential")
    settle(server)
    start = time.perf_counter()
    for code, load in loads.items():
        PostgresStarSchemaDataset(credentials={"con": url}, retailer=code).save(load)
    sequential_s = time.perf_counter() - start
    server.pg.drop_database("bench_sequential")

    url = server.fresh_warehouse("bench_parallel")
    datasets = {code: PostgresStarSchemaDataset(credentials={"con": url}, retailer=code) for code in loads}
    errors: list[BaseException] = []

    def save(code: str) -> None:
        try:
            datasets[code].save(loads[code])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(code,)) for code in loads]
    settle(server)
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    parallel_s = time.perf_counter() - start
    server.pg.drop_database("bench_parallel")
    if errors:
        raise RuntimeError(f"a parallel load failed: {errors[0]}") from errors[0]
    return sequential_s, parallel_s


DURABILITY_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")
ASYNC_COMMIT = "?options=-c%20synchronous_commit%3Doff"  # libpq URI: this session only


def settings(dsn: str, names: tuple[str, ...] = DURABILITY_SETTINGS) -> dict[str, str]:
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        values = {}
        for name in names:
            cur.execute(f"SHOW {name}")
            values[name] = cur.fetchone()[0]
        return values


def settle(server: "Server") -> None:
    """Flush dirty buffers so each timed save starts from the same state."""
    with closing(server.pg.connect()) as conn, conn.cursor() as cur:
        cur.execute("CHECKPOINT")


def run_kedro_transformation(workdir: Path, raw_zone: Path, url: str, runner: str = "SequentialRunner") -> float:
    """Seconds of `kedro run --pipelines transformation --runner <runner>` for DAY."""
    from kedro import runner as runners
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    conf = workdir / "conf"
    shutil.copytree(PROJECT_ROOT / "conf", conf, ignore=shutil.ignore_patterns("local"), dirs_exist_ok=True)
    (conf / "local").mkdir(exist_ok=True)
    (conf / "local" / "globals.yml").write_text(yaml.safe_dump({"raw_zone": str(raw_zone),
                                                                 "reporting": str(workdir / "reporting")}))
    creds = {"warehouse": {"con": url}, "warehouse_reader": {"con": url}}
    from retail_pipeline.registry import project_retailers

    for n, code in enumerate(project_retailers(), start=1):  # every registry retailer (the catalog needs all)
        creds[f"{code}_api"] = {"base_url": f"http://127.0.0.1:{5000 + n}", "api_key": "unused",
                                "client_id": "unused", "client_secret": "unused"}
        creds[f"{code}_db"] = {"con": "postgresql://unused:unused@127.0.0.1:1/unused"}
    creds["raw_zone"] = {}
    (conf / "local" / "credentials.yml").write_text(yaml.safe_dump(creds))
    configure_project("retail_pipeline")
    start = time.perf_counter()
    with KedroSession.create(project_path=PROJECT_ROOT, env="local", conf_source=str(conf),
                             runtime_params={"run_date": DAY.isoformat(), "lookback_days": 0,
                                             "run_id": "bench-transform"}) as session:
        session.run(pipeline_names=["transformation"], runner=getattr(runners, runner)())
    return time.perf_counter() - start


def timed_save(url: str, load: dict) -> tuple[float, dict]:
    from retail_pipeline.datasets.postgres_star import PostgresStarSchemaDataset

    dataset = PostgresStarSchemaDataset(credentials={"con": url})
    start = time.perf_counter()
    dataset.save(load)
    return time.perf_counter() - start, dict(dataset.timings)
