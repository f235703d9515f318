"""Landing zone and replay benchmark: what keeping the pages costs on disk, how fast a replay is.

    python -m benchmarks replay --replay-rows 20000

Starts its own PostgreSQL and the registry's retailer APIs (the ingest section's stack), seeds
`--replay-rows` records per retailer-day for one day, runs the `ingestion` pipeline once
against the APIs (which keeps each extraction's pages in the landing zone), stops the APIs and
runs it again with `replay=true` (local folder zones, one KedroSession each, in this process).

Figures:
- landing_bytes_per_record: landing-zone bytes (gzip pages) per record received, all retailers;
- landing_served_bytes_per_record, landing_compression_ratio: the pages as served, and served/stored;
- replay_records_per_s: records / wall time of the replay run (landing -> raw zone + quarantine);
- replay_api_records_per_s: the same for the run against the APIs (with the landing writes), for scale;
- with --replay-overhead, landing_write_overhead: that run's time / the same run without the
  landing zone - 1 (one run each: noisy on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import PROJECT_ROOT, print_table, record
from benchmarks.ingest import RUN_DATE, SEED
from benchmarks.ingest_stack import Stack, bench_conf


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("replay")
    group.add_argument("--replay-rows", type=int, default=20_000, help="records per retailer-day")
    group.add_argument("--replay-bad-fraction", type=float, default=0.02)
    group.add_argument("--replay-overhead", action="store_true",
                       help="also run against the APIs without the landing zone (what keeping pages costs)")


def _run(conf: Path, **params) -> float:
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    configure_project("retail_pipeline")
    started = time.perf_counter()
    with KedroSession.create(project_path=PROJECT_ROOT, conf_source=str(conf), env="local",
                             runtime_params={"run_date": RUN_DATE.isoformat(), "lookback_days": 0, **params}) as session:
        session.run(pipeline_names=["ingestion"])
    return time.perf_counter() - started


def _without_landing(conf: Path) -> None:
    """The API dataset without its landing zone, in the bench conf's local env."""
    import yaml

    entry = yaml.safe_load((conf / "base" / "catalog_ingestion.yml").read_text())["{retailer}.api_sales"]
    entry.pop("landing")
    (conf / "local" / "catalog_bench.yml").write_text(yaml.safe_dump({"{retailer}.api_sales": entry}))


def _manifests(zone: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((zone / "manifests").rglob("manifest.json"))]


def run(args: argparse.Namespace) -> dict:
    from retailers.generator import seed

    os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
    logging.getLogger("kedro").setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    stack = Stack(workdir)
    try:
        stack.start()
        seed(stack.dsns, RUN_DATE, RUN_DATE, args.replay_rows, args.replay_bad_fraction, 0.0, SEED,
             as_of="2030-01-01", styles=stack.styles)
        zone = workdir / "zone"
        conf = bench_conf(workdir, stack, zone)
        bare_seconds = None
        if args.replay_overhead:  # a warm-up run first: the first run in a process is slower
            _run(conf, run_id="bench-warm-up")
            _without_landing(conf)
            bare_seconds = _run(conf, run_id="bench-bare")
            (conf / "local" / "catalog_bench.yml").unlink()
        api_seconds = _run(conf, run_id="bench-api")
        original = _manifests(zone)
        for api in stack.apis.values():
            api.stop()  # the replay cannot ask anybody
        stack.apis = {}
        replay_seconds = _run(conf, run_id="bench-replay", replay=True)
        replayed = _manifests(zone)
    finally:
        stack.stop()
    records = sum(m["rows_received"] for m in original)
    if [m["source"] for m in replayed] != ["replay"] * len(replayed) or \
            [m["rows_written"] for m in replayed] != [m["rows_written"] for m in original]:
        raise RuntimeError("the replay did not reproduce the original run")
    stored = sum(m["landing"]["stored_bytes"] for m in original)
    served = sum(m["landing"]["bytes"] for m in original)
    shutil.rmtree(workdir, ignore_errors=True)
    figures = {
        "replay_records": records,
        "landing_bytes_per_record": round(stored / records, 1),
        "landing_served_bytes_per_record": round(served / records, 1),
        "landing_compression_ratio": round(served / stored, 2),
        "landing_pages": sum(m["landing"]["pages"] for m in original),
        "replay_seconds": round(replay_seconds, 2),
        "replay_records_per_s": round(records / replay_seconds, 1),
        "replay_api_seconds": round(api_seconds, 2),
        "replay_api_records_per_s": round(records / api_seconds, 1),
        "replay_rows_per_retailer_day": args.replay_rows,
    }
    if bare_seconds is not None:
        figures["replay_api_without_landing_seconds"] = round(bare_seconds, 2)
        figures["landing_write_overhead"] = round(api_seconds / bare_seconds - 1, 3)
    print_table("replay", sorted(figures.items()))
    record("replay", figures)
    return figures
