"""Ingestion benchmark: every retailer's real API (the registry's) -> the `ingestion` pipeline -> raw zone.

    python -m benchmarks ingest                      # 10,000 and 100,000 records per retailer-day
    python -m benchmarks ingest --full               # 1,000,000 (4 retailers) and 10,000,000 (retailer_1)
    python -m benchmarks ingest --ingest-rows 100000 --ingest-scale 10 --ingest-10x-retailers all

Runs its own PostgreSQL on a free port in a temp dir, seeds each retailer's database with the
generator (`--ingest-rows` records, order lines for retailer 4, per retailer-day,
`--ingest-bad-fraction` bad), starts the real Flask apps (retailers.launch) on free ports, and
runs the whole `ingestion` pipeline in KedroSessions (local env, raw zone in the temp dir) for
one run date with `lookback_days=--ingest-lookback`. By default one child process runs every
retailer under Kedro's ParallelRunner (`--ingest-runner`), as `kedro run --pipelines ingestion
--runner ParallelRunner` does: each retailer's node in a worker process, as many at once as the
machine has cores; then the same seeded sources again under SequentialRunner
(`--ingest-compare-runner`), as `make run`'s `kedro run` does, one retailer after another.
`--ingest-processes N` deals the retailers over N children that run at once, each a session of
its retailers' namespaces, as the Airflow DAG runs one `kedro run --namespaces <code>` task per
retailer (`ingest_processes` in the figures says which was measured). The peak memory is the
largest process's own (a child's, or a ParallelRunner worker's); `_peak_rss_sum_mb` adds up the
children's; `_peak_pss_total_mb` is the peak of all the run's processes together, workers
included, shared pages counted once (sampled every 0.2 s). Seeding is not timed; the pipeline run is (extraction
over HTTP with paging, normalization, validation, quarantine, JSON Lines writing, manifests).
The larger size (rows x scale) runs only the retailers of `--ingest-10x-retailers` (all by
default; `--full` takes retailer_1 alone: 40,000,000 seeded rows would not fit the time or the
disk of a small machine), and the time ratio compares the same retailers at both sizes.

Figures (N = records per retailer-day of the first size):
- ingest_records_per_s: records received from all the APIs / pipeline wall time (first child
  started to last child ended), at N, under --ingest-runner (ingest_runner);
- ingest_peak_rss_mb: the largest child's own peak RSS (VmHWM) at N;
- ingest_<N>_pipeline_cpu_s: CPU time of the pipeline processes, workers included (not the APIs
  nor PostgreSQL); ingest_<N>_pipeline_system_cpu_s: its part in the kernel, mostly fresh pages
  zeroed and page-cache pages filled, which on the bench VM cost 2.5 s or 11.7 s for the same run
  and code within an hour (docs/benchmarks.md, 2026-12-04 evening);
- ingest_<N>_sources_cpu_s: CPU time of the retailer APIs and their PostgreSQL during the run (they
  share the machine's cores with the pipeline here);
- ingest_<N>_core_use: (pipeline + sources CPU) / (wall time x the machine's cores): how busy the
  cores were; ingest_<N>_cpu_ceiling_records_per_s: records_per_s / core_use, the rate the same CPU
  time would give with every core busy all the time (what parallelism alone could reach);
- ingest_10x_peak_rss_mb: the same at N x scale (ingest_10x_retailers);
- ingest_scale_time_ratio: time of ingest_10x_retailers at N x scale / their mean time at N,
  each retailer timed from the load of its source to the commit of its window (linear: ~ scale),
  by the first runner with those times (ingest_scale_runner: hooks do not run in ParallelRunner's
  workers). The size N is timed on both sides of the larger one (seeded again after it; every
  size is seeded into emptied tables), so a host that speeds up or slows down over the minutes
  between them moves both sides alike; ingest_scale_time_ratio_before and _after are the ratios
  to each side alone;
- ingest_<N>_records, _seconds, _records_per_s, _peak_rss_mb for every size;
- ingest_<N>_sequential_*: the same figures under --ingest-compare-runner, on the same sources;
- ingest_rows_per_retailer_day, ingest_scale, ingest_10x_retailers, ingest_processes, ingest_runner,
  ingest_workers (ParallelRunner's max_workers, `--ingest-workers`; "cores" by default): what was measured.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from benchmarks.common import PROJECT_ROOT, TotalMemory, print_table, record
from benchmarks.ingest_stack import Stack, bench_conf

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
    group.add_argument("--ingest-runner", default="ParallelRunner",
                       help="Kedro runner of the headline figures (ParallelRunner, as `kedro run --pipelines ingestion "
                            "--runner ParallelRunner`: one retailer per worker process; SequentialRunner, ThreadRunner)")
    group.add_argument("--ingest-workers", type=int, default=None,
                       help="ParallelRunner's max_workers (default Kedro's: the machine's cores, as `kedro run` gives)")
    group.add_argument("--ingest-compare-runner", default="SequentialRunner",
                       help="also run the same seeded sources with this runner (ingest_<N>_<runner>_* figures; "
                            "'' = skip); default SequentialRunner, the runner of `make run`")
    group.add_argument("--ingest-keep", default=None,
                       help="copy each size's raw zone (raw, quarantine, manifests) here (byte comparisons)")
    group.add_argument("--ingest-profile", default=None,
                       help="run the pipeline's processes under py-spy (pip install py-spy): collapsed stacks in "
                            "<prefix>-<rows>-<n>.txt")
    group.add_argument("--ingest-processes", type=int, default=1,
                       help="processes the retailers are dealt over, each its own `kedro run` of its retailers, all "
                            "at once (the DAG runs one task per retailer); default 1: one process, as `make run`")
    group.add_argument("--ingest-chunk-rows", type=int, default=None,
                       help="the API datasets' chunk_rows for this run (default: conf/base/catalog_ingestion.yml's)")
    group.add_argument("--ingest-child", help=argparse.SUPPRESS)


_PY_SPY = Path(sys.executable).with_name("py-spy")


# -- parent: servers, seeding, children ---------------------------------------------------
def _groups(codes: list[str], processes: int) -> list[list[str]]:
    """The retailers dealt over `processes` groups, as evenly as their order allows (round robin)."""
    count = max(1, min(processes, len(codes)))
    return [codes[i::count] for i in range(count)]


def _run_children(args, specs: list[Path], rows: int) -> dict:
    """Start one child per spec at once (each its own `kedro run` of its retailers, as the DAG's
    per-retailer tasks are); the wall time is from the first start to the last end."""
    started = time.perf_counter()
    children = []
    for number, spec in enumerate(specs):
        command = [sys.executable, "-c", f"from benchmarks.ingest_child import child; child({str(spec)!r})"]
        if args.ingest_profile:
            command = [str(_PY_SPY), "record", "--subprocesses", "-r", "200", "-f", "raw",
                       "-o", f"{args.ingest_profile}-{rows}-{number}.txt", "--", *command]
        children.append(subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True))
    with TotalMemory([child.pid for child in children]) as memory:
        outputs = [child.communicate() + (child.returncode,) for child in children]
    seconds = time.perf_counter() - started
    results = []
    for stdout, stderr, code in outputs:
        lines = [line for line in stdout.splitlines() if line.startswith("BENCH ")]
        if code or not lines:
            raise RuntimeError(f"ingestion benchmark run failed (exit {code}):\n{stderr[-4000:]}")
        results.append(json.loads(lines[-1][6:]))
    return {"seconds": seconds, "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "peak_rss_sum_mb": sum(r["peak_rss_mb"] for r in results), "peak_pss_total_mb": memory.peak_mb,
            "cpu_s": sum(r["cpu_s"] for r in results), "system_cpu_s": sum(r["system_cpu_s"] for r in results),
            "retailer_seconds": {code: s for r in results for code, s in r["retailers"].items()}}


def _seed(args, stack: Stack, rows: int, codes: list[str]) -> None:
    """Seed in a process of its own: the generator's frames (gigabytes at 10,000,000) go back
    to the system before the timed run, instead of staying in this process beside it."""
    from retailers.generator import seed

    start = RUN_DATE - timedelta(days=args.ingest_lookback)
    began = time.perf_counter()
    stack.empty(codes)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as seeder:
        seeder.submit(seed, {code: stack.dsns[code] for code in codes}, start, RUN_DATE, rows,
                      args.ingest_bad_fraction, args.ingest_late_fraction, SEED, as_of="2030-01-01",
                      styles={code: stack.styles[code] for code in codes}).result()
    stack.settle(codes)
    print(f"seeded {rows:,} rows/retailer-day x {args.ingest_lookback + 1} day(s) for {', '.join(codes)} in "
          f"{time.perf_counter() - began:.1f}s", flush=True)


def _measure(args, stack: Stack, workdir: Path, rows: int, codes: list[str], runner: str) -> dict:
    """One run of the seeded sources by `runner` into a zone of its own (removed after)."""
    zone = workdir / f"zone-{rows}-{runner}"
    conf = bench_conf(workdir, stack, zone, args.ingest_chunk_rows)
    specs = []
    for number, group in enumerate(_groups(codes, args.ingest_processes)):
        spec = workdir / f"spec-{rows}-{number}.json"
        spec.write_text(json.dumps({"conf": str(conf), "zone": str(zone), "runner": runner, "workers": args.ingest_workers, "codes": group,
                                    "params": {"run_date": RUN_DATE.isoformat(),
                                               "lookback_days": args.ingest_lookback,
                                               "run_id": f"bench-{rows}"}}))
        specs.append(spec)
    sources_before = stack.sources_cpu_s()
    result = _run_children(args, specs, rows)
    result["sources_cpu_s"] = stack.sources_cpu_s() - sources_before
    received = written = quarantined = 0
    result["retailers"] = {}
    for manifest in Path(zone, "manifests").rglob("manifest.json"):
        m = json.loads(manifest.read_text())
        received += m["rows_received"]
        written += m["rows_written"]
        quarantined += m["rows_quarantined"]
        result["retailers"][m["retailer_code"]] = {"records": m["rows_received"],
                                                   "seconds": result["retailer_seconds"].get(m["retailer_code"])}
    result.update(received=received, written=written, quarantined=quarantined)
    if args.ingest_keep:
        kept = Path(args.ingest_keep, f"zone-{rows}-{runner}")
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(zone, kept, ignore=shutil.ignore_patterns("landing"))
    shutil.rmtree(zone, ignore_errors=True)
    result["records_per_s"] = result["received"] / result["seconds"]
    # every core busy the whole time: the rate this machine's CPU allows for this work
    cores = len(os.sched_getaffinity(0))
    result["core_use"] = (result["cpu_s"] + result["sources_cpu_s"]) / (result["seconds"] * cores)
    result["cpu_ceiling_records_per_s"] = result["records_per_s"] / result["core_use"]
    return result


def _short(runner: str) -> str:
    """`SequentialRunner` -> `sequential` (the prefix of the compared runner's figures)."""
    return runner.removesuffix("Runner").lower()


def _figures(prefix: str, r: dict) -> dict:
    return {f"{prefix}records": r["received"], f"{prefix}quarantined": r["quarantined"],
            f"{prefix}seconds": round(r["seconds"], 2), f"{prefix}records_per_s": round(r["records_per_s"], 1),
            f"{prefix}peak_rss_mb": round(r["peak_rss_mb"], 1), f"{prefix}peak_rss_sum_mb": round(r["peak_rss_sum_mb"], 1),
            f"{prefix}peak_pss_total_mb": round(r["peak_pss_total_mb"], 1),
            f"{prefix}pipeline_cpu_s": round(r["cpu_s"], 2), f"{prefix}pipeline_system_cpu_s": round(r["system_cpu_s"], 2),
            f"{prefix}sources_cpu_s": round(r["sources_cpu_s"], 2),
            f"{prefix}core_use": round(r["core_use"], 3),
            f"{prefix}cpu_ceiling_records_per_s": round(r["cpu_ceiling_records_per_s"], 1)}


def _timed_runner(results: dict, large: list[str]) -> str | None:
    """The first runner whose run timed each of `large` (session hooks do not run in
    ParallelRunner's workers)."""
    return next((runner for runner, r in results.items()
                 if all(r["retailers"].get(c, {}).get("seconds") for c in large)), None)


def _scale_ratio(before: dict, big: dict, after: dict, large: list[str]) -> dict:
    """Time of the retailers `large` at the big size / their mean time at the small one, timed
    before and after the big size (each retailer timed alone, from its source's load to its
    commit)."""
    def seconds(r: dict) -> float:
        return sum(r["retailers"][c]["seconds"] for c in large)

    small_s = (seconds(before) + seconds(after)) / 2
    small_n = sum(before["retailers"][c]["records"] for c in large)
    return {"ingest_scale_time_ratio": round(seconds(big) / small_s, 2),
            "ingest_scale_time_ratio_before": round(seconds(big) / seconds(before), 2),
            "ingest_scale_time_ratio_after": round(seconds(big) / seconds(after), 2),
            "ingest_scale_records_ratio": round(big["received"] / small_n, 2)}


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
        from benchmarks.ingest_child import child

        child(args.ingest_child)
        return {}
    if args.ingest_profile and not _PY_SPY.exists():
        raise SystemExit(f"--ingest-profile runs the pipeline under py-spy, which is not a dependency: "
                         f"{Path(sys.executable).with_name('pip')} install py-spy")
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    stack = Stack(workdir)
    figures: dict = {}
    try:
        stack.start()
        codes = list(stack.dsns)
        sizes, large = _sizes(args, codes)
        results = {}
        if args.ingest_processes < 1:
            raise SystemExit("--ingest-processes must be at least 1")
        runners = [args.ingest_runner] + [r for r in [args.ingest_compare_runner] if r and r != args.ingest_runner]
        for i, rows in enumerate(sizes):
            _seed(args, stack, rows, codes if i == 0 else large)
            for runner in runners:
                r = _measure(args, stack, workdir, rows, codes if i == 0 else large, runner)
                results.setdefault(rows, {})[runner] = r
                each = ", ".join(f"{code} {v['seconds']:.1f}s"
                                 for code, v in sorted(r["retailers"].items()) if v["seconds"])
                print(f"{rows:,}/retailer-day, {runner}: {r['received']:,} records in {r['seconds']:.1f}s = "
                      f"{r['records_per_s']:,.0f}/s, pipeline CPU {r['cpu_s']:.1f}s ({r['system_cpu_s']:.1f}s in the "
                      f"kernel), sources CPU {r['sources_cpu_s']:.1f}s (cores {r['core_use']:.0%} busy), peak RSS "
                      f"{r['peak_rss_mb']:,.0f} MB, all processes {r['peak_pss_total_mb']:,.0f} MB"
                      + (f" ({each})" if each else ""), flush=True)
                figures.update(_figures(f"ingest_{rows}_" if runner == args.ingest_runner
                                        else f"ingest_{rows}_{_short(runner)}_", r))
        timed = _timed_runner(results[sizes[0]], large) if len(sizes) > 1 else None
        if timed:  # the small size again, after the big one: both sides of it timed
            _seed(args, stack, sizes[0], large)
            after = _measure(args, stack, workdir, sizes[0], large, timed)
            print(f"{sizes[0]:,}/retailer-day again, {timed}: " + ", ".join(
                f"{code} {after['retailers'][code]['seconds']:.1f}s" for code in large), flush=True)
            figures.update(_scale_ratio(results[sizes[0]][timed], results[sizes[-1]][timed], after, large),
                           ingest_scale_runner=timed)
        base = results[sizes[0]][args.ingest_runner]
        figures["ingest_records_per_s"] = round(base["records_per_s"], 1)
        figures["ingest_peak_rss_mb"] = round(base["peak_rss_mb"], 1)
        if len(sizes) > 1:
            figures["ingest_10x_peak_rss_mb"] = round(results[sizes[-1]][args.ingest_runner]["peak_rss_mb"], 1)
            figures["ingest_10x_retailers"] = ",".join(large)
        figures["ingest_runner"] = args.ingest_runner
        figures["ingest_workers"] = args.ingest_workers or "cores"
        figures["ingest_rows_per_retailer_day"] = sizes[0]
        figures["ingest_scale"] = args.ingest_scale
        figures["ingest_processes"] = min(args.ingest_processes, len(codes))
        figures["ingest_days"] = args.ingest_lookback + 1
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table("ingest", sorted(figures.items()))
    record("ingest", figures)
    return figures
