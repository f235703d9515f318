"""Transformation benchmark: canonical rows (one day, three retailers) -> star schema.

    python -m benchmarks transform --transform-rows 1000000 --history-rows 10000000

Runs its own PostgreSQL (same server settings as the local stack) on a free port in a temp dir.
The rows and the history: benchmarks/transform_data.py; the server and the timed runs:
benchmarks/transform_server.py.
Figures:
- transform_s: the whole `transformation` pipeline for the day in a KedroSession, reading the
  raw zone (JSON Lines written beforehand) included, into an empty warehouse; run by
  `transform_runner` (`--transform-runner`: SequentialRunner, as `kedro run`, or ThreadRunner,
  the retailers at once as the Airflow DAG runs them);
- load_rows_per_s: the warehouse load alone, PostgresStarSchemaDataset.save of the frames the
  nodes computed (in memory) to a committed star schema, empty warehouse;
- bare_copy_rows_per_s: a plain COPY of the same rows (the canonical fields the warehouse
  keeps, CSV written by pyarrow from memory) into an unindexed table created in the same
  transaction (so it gets the same WAL skip the load gets), same server, same run;
- load_vs_copy = load_rows_per_s / bare_copy_rows_per_s; both commit durably (the server keeps
  fsync, synchronous_commit and full_page_writes on, as the stack does: `durable_commits`);
  measured in `--rounds` rounds (below; 6 by default): the median of the rounds' ratios
  (load_vs_copy_rounds), load_s, bare_copy_s and load_step_* being the median round's;
- commit_s: the load's commit step (WAL flush and the sync of the day tables built without WAL);
- durability_cost_s: load_s minus the same save into another empty warehouse with
  synchronous_commit = off for that one session (async_commit_load_s), i.e. what waiting for
  the commit to reach disk costs; the product never commits that way (issue 9);
- history_slowdown: the same save into a warehouse already holding history_rows facts over
  other days (generated in SQL once, each save into a copy of it, the copies made before the
  first round: see round_warehouses), divided by the save into an empty warehouse of the same
  round; the median of the rounds' ratios (history_slowdown_rounds; load_history_s,
  load_history_empty_s and load_history_step_* are the median round's). A round is a bare
  COPY, the save into an empty warehouse and the save into history, back to back, in each of
  the six orders once over six rounds (each step before each other in three rounds of six, so
  no order favours a ratio); the machine's speed drifts between minutes, so each ratio is
  taken within one round (load_rounds_s: each round's order and times); with `--history-late-days K`
  (history_late_days), 1% of the lines of each of the last K days carry ids of the load's
  day, as retailers whose ids are dated when a row is recorded and whose rows come up to K
  days late: their id ranges overlap the load's, so the load looks up those days' facts
  (load_history_step_keys_s);
- parallel_load_speedup: the three retailers' own loads (one PostgresStarSchemaDataset scoped to
  each retailer, as the pipeline saves them) into an empty warehouse one after the other, divided
  by the same three loads saved at once from three threads (the server works in three
  backends; on 2 cores the bound is about 2); `sequential_loads_s` and `parallel_loads_s` are
  the two wall times;
- peak_rss_mb: the peak resident memory of the `transformation` pipeline run (transform_s), in a
  process of its own; bench_process_peak_rss_mb is this process's (it generates the rows and
  computes the frames of the load figures in memory);
- quality_ids_s, quality_ids_peak_rss_mb, quality_ids_passed (and quality_ids_<N>_* for the big
  day): the quality pipeline's zone summary and warehouse-ids check of that day, in a process of
  its own (benchmarks/quality_ids.py; not the source re-read, which needs the retailer APIs);
- transform_10m_s, transform_10m_peak_rss_mb (`--full`, or `--big-rows N`: transform_<N>_*): a
  second day of 10,000,000 records (three retailers), written slice by slice, through the whole
  pipeline into an empty warehouse, its time and its process's peak memory;
- load_step_<step>_s: the empty-warehouse save's step times (PostgresStarSchemaDataset.timings)
  grouped: copy (facts and dimension members), index, checks (dimension members), keys
  (exactly once), dims (dimension writes), marts, attach (with its foreign-key validation),
  commit, setup (the day and staging tables before the first chunk), wait (the server idle
  while the client builds the next chunk); load_history_step_<step>_s the same for the save
  into history. nodes_s: the two nodes computing the load's frames in memory.

Defaults keep `make bench` short: a 1,000,000-fact history over 10 days (`history_rows`);
`--full` (benchmarks/__main__.py) uses 10,000,000 over 30 days, the size the history_slowdown
target is set at, and adds the reruns (rerun_s, rerun_history_s).
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psycopg2

from benchmarks.common import peak_rss_mb, print_table, record
from benchmarks.quality_ids import quality_ids_in_child
from benchmarks.transform_data import DAY, canonical_rows, make_history, write_big_raw_zone, write_raw_zone
from benchmarks.transform_server import (
    ASYNC_COMMIT, LOADER, Server, bare_copy_seconds, parallel_loads, pipeline_in_child, settings, settle,
    timed_save,
)

# `make bench` stays short with a smaller history (labelled history_rows in the json); the
# issue's history_slowdown target is at 10 M facts: `python -m benchmarks --full`.
DEFAULT_HISTORY, DEFAULT_HISTORY_DAYS, FULL_HISTORY = 1_000_000, 10, 10_000_000
# The orders of a round, one per round: the three rotations of copy-empty-history, then of the
# reverse; over six rounds each step comes before each other as often as after it, so a step
# that runs slower second in a round does not tilt the median ratio (docs/benchmarks.md, 2026-12-04).
ROUND_ORDERS = [("copy", "empty", "history"), ("empty", "history", "copy"), ("history", "copy", "empty"),
                ("history", "empty", "copy"), ("empty", "copy", "history"), ("copy", "history", "empty")]
# A COPY right after a copy of the 10 M history (several GB) ran ~20% slower, ~8% slower 10 s
# later, and at full speed into a copy made minutes before (docs/benchmarks.md, 2026-12-04).
DISK_SETTLE_S = 30
BIG_ROWS = 10_000_000  # the big day: three retailers, 10 M records, under --full
# Step names of PostgresStarSchemaDataset.timings -> the load_step_*_s figures they add up to.
STEP_GROUPS = {"copy": ("copy ", "dim_product copy", "dim_customer copy", "dim_store copy"),
               "index": ("index ",), "checks": ("dim_product checks", "dim_customer checks", "dim_store checks"),
               "keys": ("keys:",), "dims": ("dim_product", "dim_customer", "dim_store", "dimension lock"),
               "marts": ("marts",), "attach": ("attach ",), "commit": ("commit",),
               "setup": ("stream setup",), "wait": ("chunk wait",)}


def step_figures(steps: dict[str, float], prefix: str = "load_step_") -> dict[str, float]:
    """The load's step times grouped (copy, index, keys, marts, attach ...), in seconds."""
    out = dict.fromkeys(STEP_GROUPS, 0.0)
    for name, seconds in steps.items():
        for group, starts in STEP_GROUPS.items():
            if name in starts or any(name.startswith(s) for s in starts if s.endswith((" ", ":"))):
                out[group] += seconds
                break
    return {f"{prefix}{group}_s": round(v, 3) for group, v in out.items()}

def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("transform")
    group.add_argument("--transform-rows", type=int, default=1_000_000, help="canonical rows in the day (3 retailers)")
    group.add_argument("--history-rows", type=int, default=None,
                       help=f"fact rows already in the warehouse (default {DEFAULT_HISTORY:,}; {FULL_HISTORY:,} with --full)")
    group.add_argument("--big-rows", type=int, default=None,
                       help=f"a second, big day through the whole pipeline (transform_10m_*; default 0 = skipped, "
                            f"{BIG_ROWS:,} with --full)")
    group.add_argument("--transform-runner", default="SequentialRunner", choices=["SequentialRunner", "ThreadRunner"],
                       help="the Kedro runner of the pipeline runs (transform_s, transform_10m_s); ThreadRunner "
                            "stages and loads the retailers at once, as the Airflow DAG's tasks do")
    group.add_argument("--history-days", type=int, default=None,
                       help=f"days the history is spread over (default {DEFAULT_HISTORY_DAYS}; 30 with --full)")
    group.add_argument("--rounds", type=int, default=len(ROUND_ORDERS),
                       help="rounds of (bare COPY, save into an empty warehouse, save into history) back to "
                            "back, each round in another order; load_vs_copy and history_slowdown are the medians of "
                            f"their ratios (default {len(ROUND_ORDERS)}: each order once)")
    group.add_argument("--history-late-days", type=int, default=0,
                       help="the last K history days each hold 1%% of their lines under ids of the load's day (ids "
                            "dated when a row is recorded, rows up to K days late): the load looks up K days")



def big_day(server: "Server", workdir: Path, big: int, runner: str = "SequentialRunner") -> dict:
    """transform_10m_* (or transform_<N>_*): a day of `big` records written slice by slice, then
    the whole pipeline in its own process into an empty warehouse."""
    big_zone = workdir / "raw_zone_big"
    write_big_raw_zone(big_zone, big)
    url_big = server.fresh_warehouse("bench_big")
    settle(server)
    big_s, big_rss = pipeline_in_child(workdir / "pipeline_big", big_zone, url_big, runner)
    tag = "10m" if big == BIG_ROWS else f"{big // 1_000_000}m" if big % 1_000_000 == 0 else str(big)
    figures = {f"transform_{tag}_rows": big, f"transform_{tag}_s": round(big_s, 2),
               f"transform_{tag}_peak_rss_mb": round(big_rss, 1),
               **quality_figures(big_zone, url_big, f"quality_ids_{tag}_")}
    server.pg.drop_database("bench_big")
    shutil.rmtree(big_zone, ignore_errors=True)
    return figures


def round_warehouses(server: "Server", rounds: int) -> list[tuple[str, str]]:
    """Each round's empty warehouse and copy of bench_history_built (as urls), all made before
    the first round, then DISK_SETTLE_S for the disk: no timed step follows a copy of the
    history, which the loads of a warehouse that holds its history never do."""
    urls = [(server.fresh_warehouse(f"bench_empty_{turn}"),
             server.clone_warehouse("bench_history_built", f"bench_history_{turn}")) for turn in range(rounds)]
    settle(server)
    time.sleep(DISK_SETTLE_S)
    return urls


def timed_round(server: "Server", rows, load: dict, turn: int, empty_url: str, history_url: str) -> dict:
    """A bare COPY of the rows, the save into an empty warehouse and the same save into a copy of
    the history, back to back, in the order ROUND_ORDERS[turn % 6]."""
    steps = {"copy": lambda: (bare_copy_seconds(server.dsn("bench_pipeline"), rows), {}),
             "empty": lambda: timed_save(empty_url, load),
             "history": lambda: timed_save(history_url, load)}
    order = ROUND_ORDERS[turn % len(ROUND_ORDERS)]
    timed = {}
    for name in order:
        settle(server)
        timed[name] = steps[name]()
    (copy_s, _), (empty_s, empty_steps), (history_s, history_steps) = timed["copy"], timed["empty"], timed["history"]
    return {"order": order, "copy_s": copy_s, "empty_s": empty_s, "empty_steps": empty_steps,
            "history_s": history_s, "history_steps": history_steps,
            "vs_copy": copy_s / empty_s, "slowdown": history_s / empty_s}


def median_round(rounds: list[dict], ratio: str) -> dict:
    """The round whose `ratio` is the median (the lower middle one for an even count)."""
    return sorted(rounds, key=lambda r: r[ratio])[(len(rounds) - 1) // 2]


def quality_figures(raw_zone: Path, url: str, prefix: str = "quality_ids_") -> dict:
    """The quality pipeline's id checks on the day just loaded (benchmarks/quality_ids.py)."""
    seconds, rss, passed = quality_ids_in_child(raw_zone, url)
    return {f"{prefix}s": round(seconds, 2), f"{prefix}peak_rss_mb": round(rss, 1), f"{prefix}passed": passed}


def run(args: argparse.Namespace) -> dict:
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    logging.getLogger("kedro").setLevel(logging.WARNING)
    from retail_pipeline.pipelines.transformation.nodes import build_star_schema, stage_sales

    n = args.transform_rows
    full = getattr(args, "full", False)  # `python -m benchmarks --full` (benchmarks/__main__.py)
    if args.history_rows is None:
        args.history_rows = FULL_HISTORY if full else DEFAULT_HISTORY
    if args.history_days is None:
        args.history_days = 30 if full else DEFAULT_HISTORY_DAYS
    big = args.big_rows if args.big_rows is not None else (BIG_ROWS if full else 0)
    workdir = Path(tempfile.mkdtemp(prefix="retail-bench-transform-"))
    if n == 0:  # --transform-rows 0 --big-rows N: the big day only
        try:
            with Server(workdir) as server:
                figures = {**big_day(server, workdir, big, args.transform_runner), "transform_runner": args.transform_runner}
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print_table("transform (big day)", list(figures.items()))
        record("transform_big", figures)
        return figures
    try:
        with Server(workdir) as server:
            print(f"transform benchmark: {n:,} canonical rows on {DAY}, history {args.history_rows:,} rows")
            rows = canonical_rows(n)
            raw_zone = workdir / "raw_zone"
            write_raw_zone(raw_zone, rows)

            # 1. the whole pipeline in a KedroSession, raw zone included, empty warehouse
            url_a = server.fresh_warehouse("bench_pipeline")
            transform_s, pipeline_rss = pipeline_in_child(workdir / "pipeline", raw_zone, url_a, args.transform_runner)
            quality = quality_figures(raw_zone, url_a)
            big_figures = big_day(server, workdir, big, args.transform_runner) if big else {}

            # 2. the load's frames, computed by the nodes in memory (the dataset's saves below use them)
            retailers = {f"retailer_{k}": {"retailer_id": k, "name": f"Retailer {k}", "timezone": "UTC"}
                         for k in (1, 2, 3)}
            warehouse = {"max_fact_loss_share": 0.5}
            t = time.perf_counter()
            frames = [rows[rows["retailer_code"] == f"retailer_{k}"] for k in (1, 2, 3)]
            # as the pipeline does: staged per retailer, the parts concatenated once by the load
            parts = [stage_sales(retailers, DAY.isoformat(), 0, "bench-load", frame) for frame in frames]
            load = build_star_schema([staged for staged, _ in parts], [held for _, held in parts],
                                     retailers, warehouse, DAY.isoformat(), 0, "bench-load")
            nodes_s = time.perf_counter() - t
            # each retailer's own load, as the pipeline's <code>.build_star_schema makes it
            per_retailer = {}
            for code, (staged, held) in zip(retailers, parts):
                per_retailer[code] = build_star_schema(staged, held, {code: retailers[code]}, warehouse,
                                                       DAY.isoformat(), 0, "bench-parallel")
                per_retailer[code]["retailers"] = [code]
            del frames, parts

            # 2b. the same save, commits not waiting for the disk (this session only): the baseline
            # that shows what durable commits cost
            server.fresh_warehouse("bench_async")
            if settings(server.dsn("bench_async") + ASYNC_COMMIT)["synchronous_commit"] != "off":
                raise RuntimeError("the async-commit baseline did not get synchronous_commit = off")
            settle(server)
            load_async_s, steps_async = timed_save(server.pg.url("bench_async", LOADER, server.password)
                                                   + ASYNC_COMMIT, load)
            server.pg.drop_database("bench_async")

            # 2c. the three retailers' loads one after the other, then all at once
            sequential_s, parallel_s = parallel_loads(server, per_retailer)
            del per_retailer

            # 3. rounds: bare COPY, the save into an empty warehouse, the save into history
            server.fresh_warehouse("bench_history_built")
            history_s = make_history(server.dsn("bench_history_built"), args.history_rows, args.history_days,
                                     args.history_late_days)
            warehouses = round_warehouses(server, max(1, args.rounds))
            rounds = [timed_round(server, rows, load, turn, *urls) for turn, urls in enumerate(warehouses)]
            last_empty, last_history = warehouses[-1]
            vs_copy, slowdown = median_round(rounds, "vs_copy"), median_round(rounds, "slowdown")
            load_empty_s, steps_empty, copy_s = vs_copy["empty_s"], vs_copy["empty_steps"], vs_copy["copy_s"]
            load_history_s, steps_history = slowdown["history_s"], slowdown["history_steps"]
            last = len(rounds) - 1
            durable = settings(server.dsn(f"bench_empty_{last}"))
            rerun_empty_s = timed_save(last_empty, load)[0] if full else None
            rerun_history_s = timed_save(last_history, load)[0] if full else None
            with closing(psycopg2.connect(server.dsn(f"bench_history_{last}"))) as conn, conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM fact_sales")
                facts_total = cur.fetchone()[0]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    figures = {
        "transform_rows": n,
        "history_rows": args.history_rows,
        "history_late_days": args.history_late_days,
        "transform_s": round(transform_s, 2),
        "transform_runner": args.transform_runner,
        "load_rows_per_s": round(n / load_empty_s, 1),
        "bare_copy_rows_per_s": round(n / copy_s, 1),
        "load_vs_copy": round(statistics.median(r["vs_copy"] for r in rounds), 3),
        "load_vs_copy_rounds": [round(r["vs_copy"], 3) for r in rounds],
        "durable_commits": all(v == "on" for v in durable.values()),
        "commit_s": round(steps_empty.get("commit", 0.0), 3),
        "async_commit_load_s": round(load_async_s, 2),
        "async_commit_commit_s": round(steps_async.get("commit", 0.0), 3),
        "durability_cost_s": round(load_empty_s - load_async_s, 2),
        "history_slowdown": round(statistics.median(r["slowdown"] for r in rounds), 3),
        "history_slowdown_rounds": [round(r["slowdown"], 3) for r in rounds],
        "load_rounds_s": [{"order": ",".join(r["order"]),
                           **{k: round(r[k], 3) for k in ("copy_s", "empty_s", "history_s")}} for r in rounds],
        "parallel_load_speedup": round(sequential_s / parallel_s, 3),
        "sequential_loads_s": round(sequential_s, 2),
        "parallel_loads_s": round(parallel_s, 2),
        "peak_rss_mb": round(pipeline_rss, 1),  # the pipeline's own process (streamed, chunked)
        **quality,
        "bench_process_peak_rss_mb": round(peak_rss_mb(), 1),  # this process: rows and frames in memory
        **big_figures,
        "load_s": round(load_empty_s, 2),
        "bare_copy_s": round(copy_s, 2),
        "load_history_s": round(load_history_s, 2),
        "load_history_empty_s": round(slowdown["empty_s"], 2),
        "rerun_s": round(rerun_empty_s, 2) if rerun_empty_s is not None else None,  # --full only
        "rerun_history_s": round(rerun_history_s, 2) if rerun_history_s is not None else None,
        "nodes_s": round(nodes_s, 2),
        **step_figures(steps_empty),
        **step_figures(steps_history, "load_history_step_"),
        "history_build_s": round(history_s, 1),
        "facts_after_history_load": facts_total,
    }
    print_table("transform", [(k, v) for k, v in figures.items()])
    print("load steps (empty):   " + ", ".join(f"{k} {v:.2f}s" for k, v in steps_empty.items()))
    print("load steps (history): " + ", ".join(f"{k} {v:.2f}s" for k, v in steps_history.items()))
    record("transform", figures)
    return figures

