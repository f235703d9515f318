"""Backfill a date range, one day at a time: `python -m retail_pipeline.backfill --start D --end D`.

Each day runs the chosen pipelines (default: ingestion then transformation) in a KedroSession
with `run_date` = that day and `lookback_days` = 0 (the range itself covers late rows), with a
progress bar. Finished days are recorded in a state file, so after an interruption (Ctrl-C, a
failed day, a reboot) the same command carries on from the first unfinished day. A day is
atomic in the warehouse (PostgresStarSchemaDataset commits it whole or not at all), so
re-running a half-done day is safe; `--restart` ignores the state and redoes every day.

Progress belongs to the warehouse it was made against: the state file records the warehouse's
identity (sql/runs/warehouse_identity.sql: an id made when the warehouse was created, and its
database oid), and progress recorded against another warehouse (a rebuilt stack, other
credentials) is set aside, so every day is loaded again.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

from tqdm import tqdm

from retail_pipeline.run_window import InvalidRunDate, parse_run_date, window_dates
from retail_pipeline.user_errors import user_error_message

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = PROJECT_ROOT / "data" / "02_intermediate" / "backfill"
IDENTITY_SQL = PROJECT_ROOT / "sql" / "runs" / "warehouse_identity.sql"


def state_path(start: date, end: date, pipelines: list[str], env: str) -> Path:
    return STATE_DIR / f"{start}_{end}_{'+'.join(pipelines)}_{env}.json"


def _read_state(path: Path) -> dict:
    if path.exists():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            pass
    return {"done": {}}


def _write_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    os.replace(tmp, path)  # atomic: an interruption never leaves a torn state file


def warehouse_identity(env: str, conf_source: str | None) -> str:
    """The identity of the warehouse the env's `warehouse` credentials point at."""
    import psycopg2
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=PROJECT_ROOT, env=env, conf_source=conf_source) as session:
        con = session.load_context().config_loader["credentials"]["warehouse"]["con"]
    with closing(psycopg2.connect(con.replace("postgresql+psycopg2://", "postgresql://", 1),
                                  connect_timeout=10)) as conn, conn.cursor() as cur:
        cur.execute(IDENTITY_SQL.read_text())
        return cur.fetchone()[0]


def run_day(day: date, pipelines: list[str], env: str, conf_source: str | None, lookback_days: int) -> str:
    """Run the pipelines for one day in fresh KedroSessions; returns the run id."""
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession
    from kedro.runner import SequentialRunner

    configure_project("retail_pipeline")
    run_id = f"backfill-{day:%Y%m%d}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    params = {"run_date": day.isoformat(), "lookback_days": lookback_days, "run_id": run_id}
    for pipeline in pipelines:
        with KedroSession.create(project_path=PROJECT_ROOT, env=env, conf_source=conf_source,
                                 runtime_params=params) as session:
            # the runner named, as `kedro run` does: plugins (kedro-viz) tell runners apart by it
            session.run(pipeline_names=[pipeline], runner=SequentialRunner())
    return run_id


def backfill(start: date, end: date, pipelines: list[str], env: str = "local", conf_source: str | None = None,
             lookback_days: int = 0, state_file: Path | None = None, restart: bool = False,
             progress: bool = True, warehouse: str | None = None) -> dict:
    """Run every day of start..end not already done against `warehouse` (its identity);
    returns the state (days done -> run id)."""
    days = window_dates(start, end)
    path = state_file or state_path(start, end, pipelines, env)
    state = {"done": {}} if restart else _read_state(path)
    if state["done"] and state.get("warehouse") != warehouse:
        print(f"{path} records {len(state['done'])} day(s) done in another warehouse "
              f"({state.get('warehouse') or 'unknown'}; this one is {warehouse}): doing every day again.",
              file=sys.stderr)
        state = {"done": {}}
    state.update({"start": start.isoformat(), "end": end.isoformat(), "pipelines": pipelines, "env": env,
                  "warehouse": warehouse, "lookback_days": lookback_days})  # retention's look-back rule reads it
    todo = [d for d in days if d.isoformat() not in state["done"]]
    bar = tqdm(total=len(days), initial=len(days) - len(todo), unit="day", desc="backfill",
               disable=None if progress else True, file=sys.stderr)  # None: only on a terminal
    try:
        for day in todo:
            bar.set_postfix_str(day.isoformat())
            state["done"][day.isoformat()] = run_day(day, pipelines, env, conf_source, lookback_days)
            _write_state(path, state)
            bar.update(1)
    finally:
        bar.close()
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retail_pipeline.backfill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--pipelines", default="ingestion,transformation",
                        help="comma-separated pipelines to run per day, in order (default: %(default)s)")
    parser.add_argument("--env", default="local", help="Kedro env (default: %(default)s)")
    parser.add_argument("--conf-source", default=None, help="Kedro conf folder (default: conf/)")
    parser.add_argument("--lookback-days", type=int, default=0, help="look-back per day (default: %(default)s)")
    parser.add_argument("--state-file", type=Path, default=None, help="where finished days are recorded")
    parser.add_argument("--restart", action="store_true", help="ignore recorded progress and redo every day")
    args = parser.parse_args(argv)
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    try:
        start, end = parse_run_date(args.start), parse_run_date(args.end)
        if end < start:
            parser.error(f"--end {end} is before --start {start}")
    except InvalidRunDate as exc:
        parser.error(str(exc))
    pipelines = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    path = args.state_file or state_path(start, end, pipelines, args.env)
    logging.getLogger("kedro").setLevel(logging.WARNING)
    try:
        identity = warehouse_identity(args.env, args.conf_source)
    except Exception as exc:
        reason = user_error_message(exc) or (
            f"the warehouse of env '{args.env}' cannot be identified ({' '.join(str(exc).split())}).\n"
            "Start and migrate it (`make up`) or fix its credentials")
        print(f"Backfill cannot start: {reason}; then run the same command again.", file=sys.stderr)
        return 1
    try:
        state = backfill(start, end, pipelines, args.env, args.conf_source, args.lookback_days, path, args.restart,
                         warehouse=identity)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Finished days are recorded in {path}; run the same command to resume.",
              file=sys.stderr)
        return 130
    except Exception as exc:  # a day failed: say which and how to carry on
        done = _read_state(path)["done"]
        print(f"\nBackfill stopped: {type(exc).__name__}: {exc}\n{len(done)} day(s) finished (recorded in "
              f"{path}). Fix the cause and run the same command to resume from the first unfinished day.",
              file=sys.stderr)
        return 1
    print(f"Backfill {start}..{end} done: {len(state['done'])} day(s), pipelines {', '.join(pipelines)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
