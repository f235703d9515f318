"""Ingestion benchmark: every retailer's real API (the registry's) -> the `ingestion` pipeline -> raw zone.

    python -m benchmarks ingest --ingest-rows 100000 --ingest-scale 10

Runs its own PostgreSQL on a free port in a temp dir, seeds each retailer's database with the
generator (`--ingest-rows` records, order lines for retailer 4, per retailer-day,
`--ingest-bad-fraction` bad), starts the real Flask apps (retailers.launch) on free ports, and runs the whole `ingestion` pipeline
in a KedroSession (local env, raw zone in the temp dir) for one run date with
`lookback_days=--ingest-lookback`. Each size runs in a child process of its own, so its peak
memory is its own. Seeding is not timed; the pipeline run is (extraction over HTTP with paging,
normalization, validation, quarantine, JSON Lines writing, manifests).

Figures (per size N = records per retailer-day):
- ingest_records_per_s: records received from all the APIs / pipeline wall time, at N;
- ingest_peak_rss_mb: the child's own peak RSS (VmHWM) at the largest size (N x scale);
- ingest_<N>_records, _seconds, _records_per_s, _peak_rss_mb for every size;
- ingest_scale_time_ratio: time at N x scale / time at N (linear paging keeps it ~ scale).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

from benchmarks.common import PROJECT_ROOT, peak_rss_mb, print_table, record

RUN_DATE = date(2024, 6, 15)
SEED = 42


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ingest")
    group.add_argument("--ingest-rows", type=int, default=100_000, help="records per retailer-day")
    group.add_argument("--ingest-scale", type=int, default=10,
                       help="also run at rows x scale (linearity and the memory figure); 1 = skip")
    group.add_argument("--ingest-lookback", type=int, default=0,
                       help="lookback_days of the run; the window's days are all seeded")
    group.add_argument("--ingest-bad-fraction", type=float, default=0.01)
    group.add_argument("--ingest-late-fraction", type=float, default=0.0)
    group.add_argument("--ingest-runner", default="SequentialRunner",
                       help="Kedro runner for the pipeline (SequentialRunner, ThreadRunner)")
    group.add_argument("--ingest-child", help=argparse.SUPPRESS)


# -- child: one pipeline run, measured ----------------------------------------------------
def _child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
    import logging

    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession
    from kedro.runner import SequentialRunner, ThreadRunner

    logging.getLogger("kedro").setLevel(logging.WARNING)
    configure_project("retail_pipeline")
    runner = {"SequentialRunner": SequentialRunner, "ThreadRunner": ThreadRunner}[spec["runner"]]()
    started = time.perf_counter()
    with KedroSession.create(project_path=PROJECT_ROOT, conf_source=spec["conf"], env="local",
                             runtime_params=spec["params"]) as session:
        session.run(pipeline_names=["ingestion"], runner=runner)
    seconds = time.perf_counter() - started
    received = written = quarantined = 0
    for manifest in Path(spec["zone"], "manifests").rglob("manifest.json"):
        m = json.loads(manifest.read_text())
        received += m["rows_received"]
        written += m["rows_written"]
        quarantined += m["rows_quarantined"]
    print("BENCH " + json.dumps({"seconds": seconds, "received": received, "written": written,
                                 "quarantined": quarantined, "peak_rss_mb": _own_peak_rss_mb()}))


def _own_peak_rss_mb() -> float:
    """This process's own peak RSS. Linux keeps ru_maxrss across fork+exec, so a child started
    by the parent (which seeded millions of rows just before) would report the parent's peak;
    VmHWM in /proc/self/status is the high-water mark of this process image only."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


# -- parent: servers, seeding, children ---------------------------------------------------
class _Stack:
    def __init__(self, workdir: Path):
        from retail_pipeline.devstack.postgres import LocalPostgres, free_port

        self.workdir = workdir
        self.pg = LocalPostgres(workdir / "pgdata", free_port(), secrets.token_urlsafe(16))
        self.apis: dict = {}
        self.dsns: dict = {}
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
            self.dsns[code] = self.pg.dsn(sim["database"])
            init_db(sim["style"], self.dsns[code])
        for code, dsn in self.dsns.items():
            token = f"bench-{code}-{secrets.token_hex(8)}"
            self.keys[code] = instance(code, self.styles[code]).secrets(
                {"api_key": token, "client_id": f"{token}-client", "client_secret": token})
            self.apis[code] = start_api(self.styles[code], code, free_port(), dsn, self.workdir / f"{code}.log",
                                        secrets=self.keys[code])

    def stop(self) -> None:
        for api in self.apis.values():
            api.stop()
        self.pg.stop()


def _conf(workdir: Path, stack: _Stack, zone: Path) -> Path:
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
    (conf / "local" / "globals.yml").write_text(yaml.safe_dump({"raw_zone": str(zone),
                                                                 "reporting": str(workdir / "reporting")}))
    return conf


def _measure(args, stack: _Stack, workdir: Path, rows: int) -> dict:
    from retailers.generator import seed

    start = RUN_DATE - timedelta(days=args.ingest_lookback)
    began = time.perf_counter()
    seed(stack.dsns, start, RUN_DATE, rows, args.ingest_bad_fraction, args.ingest_late_fraction, SEED,
         as_of="2030-01-01", styles=stack.styles)
    print(f"seeded {rows:,} rows/retailer-day x {args.ingest_lookback + 1} day(s) in "
          f"{time.perf_counter() - began:.1f}s", flush=True)
    zone = workdir / f"zone-{rows}"
    conf = _conf(workdir, stack, zone)
    spec = workdir / f"spec-{rows}.json"
    spec.write_text(json.dumps({"conf": str(conf), "zone": str(zone), "runner": args.ingest_runner,
                                "params": {"run_date": RUN_DATE.isoformat(),
                                           "lookback_days": args.ingest_lookback,
                                           "run_id": f"bench-{rows}"}}))
    out = subprocess.run([sys.executable, "-c", f"from benchmarks.ingest import _child; _child({str(spec)!r})"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("BENCH ")]
    if out.returncode or not lines:
        raise RuntimeError(f"ingestion benchmark run failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
    result = json.loads(lines[-1][6:])
    shutil.rmtree(zone, ignore_errors=True)
    result["records_per_s"] = result["received"] / result["seconds"]
    return result


def run(args: argparse.Namespace) -> dict:
    if args.ingest_child:
        _child(args.ingest_child)
        return {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    stack = _Stack(workdir)
    figures: dict = {}
    try:
        stack.start()
        sizes = [args.ingest_rows] + ([args.ingest_rows * args.ingest_scale] if args.ingest_scale > 1 else [])
        results = {}
        for rows in sizes:
            results[rows] = _measure(args, stack, workdir, rows)
            r = results[rows]
            print(f"{rows:,}/retailer-day: {r['received']:,} records in {r['seconds']:.1f}s = "
                  f"{r['records_per_s']:,.0f}/s, peak RSS {r['peak_rss_mb']:,.0f} MB", flush=True)
            figures.update({
                f"ingest_{rows}_records": r["received"],
                f"ingest_{rows}_quarantined": r["quarantined"],
                f"ingest_{rows}_seconds": round(r["seconds"], 2),
                f"ingest_{rows}_records_per_s": round(r["records_per_s"], 1),
                f"ingest_{rows}_peak_rss_mb": round(r["peak_rss_mb"], 1),
            })
        base = results[sizes[0]]
        figures["ingest_records_per_s"] = round(base["records_per_s"], 1)
        figures["ingest_peak_rss_mb"] = round(results[sizes[-1]]["peak_rss_mb"], 1)
        if len(sizes) > 1:
            figures["ingest_scale_time_ratio"] = round(results[sizes[-1]]["seconds"] / base["seconds"], 2)
        figures["ingest_rows_per_retailer_day"] = args.ingest_rows
        figures["ingest_days"] = args.ingest_lookback + 1
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table("ingest", sorted(figures.items()))
    record("ingest", figures)
    return figures
