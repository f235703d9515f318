"""Ingestion benchmark: every retailer's real API (the registry's) -> the `ingestion` pipeline -> raw zone.

    python -m benchmarks ingest                      # 10,000 and 100,000 records per retailer-day
    python -m benchmarks ingest --full               # 1,000,000 (4 retailers) and 10,000,000 (retailer_1)
    python -m benchmarks ingest --ingest-rows 100000 --ingest-scale 10 --ingest-10x-retailers all

Runs its own PostgreSQL on a free port in a temp dir, seeds each retailer's database with the
generator (`--ingest-rows` records, order lines for retailer 4, per retailer-day,
`--ingest-bad-fraction` bad), starts the real Flask apps (retailers.launch) on free ports, and
runs the whole `ingestion` pipeline in a KedroSession (local env, raw zone in the temp dir) for
one run date with `lookback_days=--ingest-lookback`. Each size runs in a child process of its
own, so its peak memory is its own. Seeding is not timed; the pipeline run is (extraction over
HTTP with paging, normalization, validation, quarantine, JSON Lines writing, manifests).
The larger size (rows x scale) runs only the retailers of `--ingest-10x-retailers` (all by
default; `--full` takes retailer_1 alone: 40,000,000 seeded rows would not fit the time or the
disk of a small machine), and the time ratio compares the same retailers at both sizes.

Figures (N = records per retailer-day of the first size):
- ingest_records_per_s: records received from all the APIs / pipeline wall time, at N;
- ingest_peak_rss_mb: the child's own peak RSS (VmHWM) at N (every retailer, one after another);
- ingest_10x_peak_rss_mb: the same at N x scale (ingest_10x_retailers);
- ingest_scale_time_ratio: time of ingest_10x_retailers at N x scale / their time at N, each
  retailer timed from the load of its source to the commit of its window (linear: ~ scale);
- ingest_<N>_records, _seconds, _records_per_s, _peak_rss_mb for every size;
- ingest_rows_per_retailer_day, ingest_scale, ingest_10x_retailers: what was measured.
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
from kedro.framework.hooks import hook_impl

from benchmarks.common import PROJECT_ROOT, peak_rss_mb, print_table, record

RUN_DATE = date(2024, 6, 15)
SEED = 42


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ingest")
    group.add_argument("--ingest-rows", type=int, default=None,
                       help="records per retailer-day (default 10,000; 1,000,000 with --full)")
    group.add_argument("--ingest-scale", type=int, default=10,
                       help="also run at rows x scale (linearity and the 10x memory figure); 1 = skip")
    group.add_argument("--ingest-10x-retailers", default=None,
                       help="comma-separated codes run at rows x scale, or 'all' (default all; retailer_1 with --full)")
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
    timer = _RetailerTimer()
    started = time.perf_counter()
    with KedroSession.create(project_path=PROJECT_ROOT, conf_source=spec["conf"], env="local",
                             runtime_params=spec["params"]) as session:
        session._hook_manager.register(timer)
        session.run(pipeline_names=["ingestion"], runner=runner, namespaces=spec.get("codes"))
    seconds = time.perf_counter() - started
    received = written = quarantined = 0
    per_retailer = {}
    for manifest in Path(spec["zone"], "manifests").rglob("manifest.json"):
        m = json.loads(manifest.read_text())
        received += m["rows_received"]
        written += m["rows_written"]
        quarantined += m["rows_quarantined"]
        per_retailer[m["retailer_code"]] = {"records": m["rows_received"], "seconds": timer.seconds(m["retailer_code"])}
    print("BENCH " + json.dumps({"seconds": seconds, "received": received, "written": written,
                                 "quarantined": quarantined, "peak_rss_mb": _own_peak_rss_mb(),
                                 "retailers": per_retailer}))


class _RetailerTimer:
    """Each retailer's time from the load of its source to the commit of its window (the node
    is a generator: Kedro's after_node_run comes before its chunks are saved)."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}

    def seconds(self, code: str) -> float | None:
        if code in self.started and code in self.ended:
            return self.ended[code] - self.started[code]
        return None

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str) -> None:
        if dataset_name.endswith(".api_sales"):
            self.started.setdefault(dataset_name.split(".")[0], time.perf_counter())

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data) -> None:
        if dataset_name.endswith(".raw_sales") and isinstance(data, dict) and "manifest" in data:
            self.ended[dataset_name.split(".")[0]] = time.perf_counter()


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


def _measure(args, stack: _Stack, workdir: Path, rows: int, codes: list[str]) -> dict:
    from retailers.generator import seed

    start = RUN_DATE - timedelta(days=args.ingest_lookback)
    began = time.perf_counter()
    seed({code: stack.dsns[code] for code in codes}, start, RUN_DATE, rows, args.ingest_bad_fraction,
         args.ingest_late_fraction, SEED, as_of="2030-01-01", styles={code: stack.styles[code] for code in codes})
    print(f"seeded {rows:,} rows/retailer-day x {args.ingest_lookback + 1} day(s) for {', '.join(codes)} in "
          f"{time.perf_counter() - began:.1f}s", flush=True)
    zone = workdir / f"zone-{rows}"
    conf = _conf(workdir, stack, zone)
    spec = workdir / f"spec-{rows}.json"
    spec.write_text(json.dumps({"conf": str(conf), "zone": str(zone), "runner": args.ingest_runner, "codes": codes,
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


def _sizes(args: argparse.Namespace, codes: list[str]) -> tuple[list[int], list[str]]:
    """(sizes, the retailers of the larger size)."""
    rows = args.ingest_rows or (1_000_000 if getattr(args, "full", False) else 10_000)
    chosen = args.ingest_10x_retailers or ("retailer_1" if getattr(args, "full", False) else "all")
    large = codes if chosen == "all" else [code for code in chosen.split(",") if code]
    unknown = set(large) - set(codes)
    if unknown:
        raise SystemExit(f"--ingest-10x-retailers: unknown retailer(s) {', '.join(sorted(unknown))}; "
                         f"the registry has {', '.join(codes)}")
    return [rows] + ([rows * args.ingest_scale] if args.ingest_scale > 1 else []), large


def run(args: argparse.Namespace) -> dict:
    if args.ingest_child:
        _child(args.ingest_child)
        return {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    stack = _Stack(workdir)
    figures: dict = {}
    try:
        stack.start()
        codes = list(stack.dsns)
        sizes, large = _sizes(args, codes)
        results = {}
        for i, rows in enumerate(sizes):
            results[rows] = r = _measure(args, stack, workdir, rows, codes if i == 0 else large)
            each = ", ".join(f"{code} {v['seconds']:.1f}s" for code, v in sorted(r["retailers"].items()) if v["seconds"])
            print(f"{rows:,}/retailer-day: {r['received']:,} records in {r['seconds']:.1f}s = "
                  f"{r['records_per_s']:,.0f}/s, peak RSS {r['peak_rss_mb']:,.0f} MB ({each})", flush=True)
            figures.update({
                f"ingest_{rows}_records": r["received"],
                f"ingest_{rows}_quarantined": r["quarantined"],
                f"ingest_{rows}_seconds": round(r["seconds"], 2),
                f"ingest_{rows}_records_per_s": round(r["records_per_s"], 1),
                f"ingest_{rows}_peak_rss_mb": round(r["peak_rss_mb"], 1),
            })
        base = results[sizes[0]]
        figures["ingest_records_per_s"] = round(base["records_per_s"], 1)
        figures["ingest_peak_rss_mb"] = round(base["peak_rss_mb"], 1)
        if len(sizes) > 1:
            big = results[sizes[-1]]
            figures["ingest_10x_peak_rss_mb"] = round(big["peak_rss_mb"], 1)
            small_s = sum(base["retailers"][c]["seconds"] or 0 for c in large)
            big_s = sum(big["retailers"][c]["seconds"] or 0 for c in large)
            small_n = sum(base["retailers"][c]["records"] for c in large)
            if small_s and big_s:
                figures["ingest_scale_time_ratio"] = round(big_s / small_s, 2)
                figures["ingest_scale_records_ratio"] = round(big["received"] / small_n, 2)
            figures["ingest_10x_retailers"] = ",".join(large)
        figures["ingest_rows_per_retailer_day"] = sizes[0]
        figures["ingest_scale"] = args.ingest_scale
        figures["ingest_days"] = args.ingest_lookback + 1
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table("ingest", sorted(figures.items()))
    record("ingest", figures)
    return figures
