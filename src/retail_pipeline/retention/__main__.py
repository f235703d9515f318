"""`python -m retail_pipeline.retention [--keep-days N] [--dry-run] [--env ENV] [--conf-source DIR]
[--today YYYY-MM-DD] [--json]`

Removes everything older than keep_days (default: parameter `retention.keep_days`,
conf/base/parameters_retention.yml) from the warehouse and the zones, and records it in
`retention_audit`; `--dry-run` lists exactly what would go and removes nothing. Refuses, naming
the day, to remove a day a run still to be run will read (docs/production.md, "Retention").
Exit codes: 0 done, 1 failed, 2 usage, 3 refused (nothing removed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import psycopg2

from retail_pipeline.retention.rules import RetentionRefused
from retail_pipeline.run_window import InvalidRunDate, parse_run_date
from retail_pipeline.user_errors import user_error_message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retail_pipeline.retention", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-days", type=int, default=None,
                        help="keep the days from today - N on (default: parameter retention.keep_days)")
    parser.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")
    parser.add_argument("--env", default=os.environ.get("KEDRO_ENV") or "local", help="Kedro env (default: %(default)s)")
    parser.add_argument("--conf-source", default=None, help="Kedro conf folder (default: conf/)")
    parser.add_argument("--today", default=None, help="the day the run counts from, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--backfill-dir", type=Path, default=None,
                        help="backfill progress folder (default: data/02_intermediate/backfill)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        today = parse_run_date(args.today) if args.today else None
    except InvalidRunDate as exc:
        parser.error(str(exc).replace("run_date", "--today"))
    if args.keep_days is not None and args.keep_days < 0:
        parser.error(f"--keep-days must be >= 0, got {args.keep_days}")

    from retail_pipeline.retention.config import load_settings
    from retail_pipeline.retention.run import BACKFILL_DIR, retention

    try:
        settings = load_settings(args.env, args.conf_source)
        if args.keep_days is None and settings.keep_days is None:
            parser.error("no keep_days: pass --keep-days N or set retention.keep_days in parameters_retention.yml")
        report = retention(settings, args.keep_days, today=today, dry_run=args.dry_run,
                           backfill_dir=args.backfill_dir or BACKFILL_DIR)
    except RetentionRefused as exc:
        print(f"RetentionRefused: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # noqa: BLE001 - one line a person can act on, else the traceback
        message = user_error_message(exc)
        if message is not None:
            print(f"Retention cannot run: {message}", file=sys.stderr)
            return 2
        if isinstance(exc, psycopg2.Error | OSError):  # the warehouse or the zone store failed
            print(f"Retention failed: {type(exc).__name__}: {' '.join(str(exc).split())}\nEach retailer's removal "
                  "is all or nothing and recorded in retention_audit when done; rerun once the cause is fixed "
                  "(a rerun removes what is left).", file=sys.stderr)
            return 1
        raise
    if args.json:
        print(json.dumps({"run_id": report.run_id, "today": report.today.isoformat(), "keep_days": report.keep_days,
                          "cutoff": report.cutoff.isoformat(), "dry_run": report.dry_run,
                          "items": [item.as_dict() for item in report.items]}, indent=1))
    else:
        print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
