"""`python -m retail_pipeline.devstack up|down|status|summary|seed|days|compose` (what `make up`
etc. call).

The retailers come from the registry (conf/base/retailers.yml). Ports and paths come from the
environment (see retail_pipeline/devstack/config.py): RETAIL_PG_PORT (5432), <PREFIX>_PORT per
retailer (RETAILER1_PORT 5001 ...), RETAIL_STACK_DIR (.stack), RETAIL_CONF_LOCAL (conf/local),
RETAIL_LOGS_DIR (logs).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta

from retail_pipeline.devstack.config import StackConfig, StackError

MAX_DAYS_UNCONFIRMED = 31  # a longer range is refused unless confirmed (YES=1 / --yes)


def _day(value: str, variable: str) -> date:
    """A make variable's date, or a one-line error naming the variable, the value and the fix."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        raise ValueError("not in the form YYYY-MM-DD")
    except ValueError as exc:
        raise StackError(f"{variable}={value} is not a date: {exc}. Write it as YYYY-MM-DD, "
                         f"e.g. {variable}=2024-01-15.") from None


def _days(args: argparse.Namespace) -> int:
    """Print the seeding/run days, one per line (stdout is read by the Makefile): --start..--end,
    or the --days ending --end. The range goes to stderr; a long one needs --yes."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    end = _day(args.end, "END") if args.end else yesterday
    start = _day(args.start, "START") if args.start else end - timedelta(days=args.days - 1)
    if start > end:
        raise StackError(f"START={start} is after END={end}; give an END on or after START.")
    count = (end - start).days + 1
    until = " (END not given: until yesterday, UTC)" if args.start and not args.end else ""
    if count > MAX_DAYS_UNCONFIRMED and not args.yes:
        raise StackError(f"{start} .. {end} is {count} days{until}, more than {MAX_DAYS_UNCONFIRMED}. "
                         f"Give END=YYYY-MM-DD, or confirm the whole range with YES=1.")
    print(f"days: {start} .. {end} ({count} day{'s' if count > 1 else ''}){until}", file=sys.stderr)
    for n in range(count):
        print((start + timedelta(days=n)).isoformat())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retail_pipeline.devstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start PostgreSQL and the retailer APIs, write conf/local/credentials.yml")
    up.add_argument("--no-apis", action="store_true", help="PostgreSQL, databases and credentials only")
    commands.add_parser("down", help="stop the retailer APIs and PostgreSQL")
    commands.add_parser("status", help="table of components; exit code 0 when all are up")
    commands.add_parser("summary", help="what the warehouse and raw zone hold, and what to open next")
    days = commands.add_parser("days", help="print the days of a range (used by `make run`)")
    days.add_argument("--start", default="")
    days.add_argument("--end", default="", help="default: yesterday (UTC)")
    days.add_argument("--days", type=int, default=7, help="number of days ending --end when --start is empty")
    days.add_argument("--yes", action="store_true", help=f"allow more than {MAX_DAYS_UNCONFIRMED} days")
    commands.add_parser("seed", help="`python -m retailers seed ARGS` for every registry retailer, side by side",
                        epilog="Any other arguments are passed on, e.g. --start D --end D --rows-per-day N --seed S.")
    compose = commands.add_parser("compose", help="render docker-compose.yml, .env.example and the docker "
                                  "credentials from the registry (docker/templates)")
    compose.add_argument("--check", action="store_true", help="exit 1 when a committed file differs from its rendering")
    args, passed_on = parser.parse_known_args(argv)
    if passed_on and args.command != "seed":
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")

    try:
        if args.command == "days":
            return _days(args)
        from retail_pipeline.devstack import compose, stack, summary

        config = StackConfig.from_env()
        if args.command == "up":
            return stack.up(config, with_apis=not args.no_apis)
        if args.command == "seed":
            return stack.seed(config, passed_on)
        if args.command == "compose":
            return compose.main(config, check=args.check)
        return {"down": stack.down, "status": stack.status, "summary": summary.summary}[args.command](config)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        if args.command == "days":
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
