"""The ingestion benchmarks' stack: a PostgreSQL of their own with every registry retailer's
database, the real Flask APIs on free ports, and a copy of conf/ pointing at them
(`benchmarks/ingest.py`, `benchmarks/replay.py`)."""

from __future__ import annotations

import re
import secrets
import shutil
from contextlib import closing
from pathlib import Path

import yaml

from benchmarks.common import PROJECT_ROOT, process_trees


class Stack:
    """The servers of one benchmark run, stopped by `stop` (each by its pid)."""

    def __init__(self, workdir: Path):
        from retail_pipeline.devstack.postgres import LocalPostgres, free_port

        self.workdir = workdir
        self.pg = LocalPostgres(workdir / "pgdata", free_port(), secrets.token_urlsafe(16))
        self.apis: dict = {}
        self.dsns: dict = {}
        self.databases: dict = {}
        self.keys: dict = {}
        self.styles: dict = {}

    def start(self) -> None:
        from retail_pipeline.devstack.postgres import free_port
        from retail_pipeline.registry import project_retailers
        from retailers.common.db import init_db
        from retailers.common.registry import instance
        from retailers.launch import start_api

        self.pg.start()
        # every retailer of the registry, each served by its simulator style from its database
        simulators = {code: entry["simulator"] for code, entry in project_retailers().items()}
        self.styles = {code: sim["style"] for code, sim in simulators.items()}
        for code, sim in simulators.items():
            self.pg.ensure_database(sim["database"])
            self.databases[code] = sim["database"]
            self.dsns[code] = self.pg.dsn(sim["database"])
            init_db(sim["style"], self.dsns[code])
        for code, dsn in self.dsns.items():
            token = f"bench-{code}-{secrets.token_hex(8)}"
            self.keys[code] = instance(code, self.styles[code]).secrets(
                {"api_key": token, "client_id": f"{token}-client", "client_secret": token})
            self.apis[code] = start_api(self.styles[code], code, free_port(), dsn, self.workdir / f"{code}.log",
                                        secrets=self.keys[code])

    def empty(self, codes: list[str]) -> None:
        """Every table of these retailers' databases emptied to fresh files (TRUNCATE): a size
        seeded after a bigger one then reads the same table and index shapes as when first
        seeded, not the bigger day's vacuumed leftovers."""
        from retailers.common.registry import spec

        for code in codes:  # retailer_4's orders empty its order_lines (a trigger in its schema.sql)
            with closing(self.pg.connect(self.databases[code])) as conn, conn.cursor() as cur:
                cur.execute(f"TRUNCATE {spec(self.styles[code]).table}")

    def settle(self, codes: list[str]) -> None:
        """The seeded databases vacuumed, analyzed and checkpointed, as a retailer's settled
        system would be: autovacuum of the fresh rows is not part of the run's work."""
        for code in codes:
            with closing(self.pg.connect(self.databases[code])) as conn, conn.cursor() as cur:
                cur.execute("VACUUM (ANALYZE)")
        with closing(self.pg.connect()) as conn, conn.cursor() as cur:
            cur.execute("CHECKPOINT")

    def sources_cpu_s(self) -> float:
        """CPU seconds used so far by the retailer APIs and their PostgreSQL (its backends
        included, live or ended): the sources' share of the machine while the pipeline runs."""
        import psutil

        from retail_pipeline.devstack.postmaster import recorded_pid

        total = 0.0
        for proc in process_trees([api.pid for api in self.apis.values()] + [recorded_pid(self.pg.datadir)]):
            try:
                times = proc.cpu_times()
            except psutil.Error:  # ended meanwhile: its time is in its parent's children_* now
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total

    def stop(self) -> None:
        for api in self.apis.values():
            api.stop()
        self.pg.stop()


def bench_conf(workdir: Path, stack: Stack, zone: Path, chunk_rows: int | None = None) -> Path:
    conf = workdir / "conf"
    if conf.exists():
        shutil.rmtree(conf)
    shutil.copytree(PROJECT_ROOT / "conf", conf, ignore=shutil.ignore_patterns("local"))
    (conf / "local").mkdir(exist_ok=True)
    unused = {"con": "postgresql+psycopg2://unused:unused@127.0.0.1:1/unused"}
    credentials = {"warehouse": unused, "warehouse_reader": unused, "raw_zone": {}}
    for code, api in stack.apis.items():
        credentials[f"{code}_api"] = {"base_url": api.base_url, **stack.keys[code]}
    (conf / "local" / "credentials.yml").write_text(yaml.safe_dump(credentials))
    if chunk_rows:  # the API factory's chunk_rows, in the copy of the catalog
        catalog = conf / "base" / "catalog_ingestion.yml"
        text, count = re.subn(r"(?m)^(  chunk_rows: )\d+(\s+# records per chunk)", rf"\g<1>{chunk_rows}\g<2>",
                              catalog.read_text())
        if count != 1:
            raise SystemExit("--ingest-chunk-rows: the API factory's chunk_rows line was not found")
        catalog.write_text(text)
    (conf / "local" / "globals.yml").write_text(yaml.safe_dump({"raw_zone": str(zone),
                                                                 "reporting": str(workdir / "reporting")}))
    return conf
