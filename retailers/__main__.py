"""Command line for the retailer systems: seed, serve, init-db.

    python -m retailers seed --start 2024-01-01 --end 2024-01-07 --rows-per-day 1000 \\
        --bad-fraction 0.02 --late-fraction 0.05 --seed 42
    python -m retailers serve --retailer retailer_1 [--port 5001] [--database-url URL] [--api-key K]
    python -m retailers init-db --retailer retailer_1 --database-url URL

Connection strings and keys come from arguments, else env (RETAILER1_DATABASE_URL,
RETAILER1_API_KEY, RETAILER1_PORT ...), else conf/local/credentials.yml (retailer_N_db.con)
and the contract's defaults. Keys and passwords are never printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path

from retailers.common.registry import RETAILERS, spec

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def credentials_urls(path: Path | None = None) -> dict[str, str]:
    """retailer code -> DSN from conf/local/credentials.yml, where the local stack writes them."""
    path = path or PROJECT_ROOT / "conf" / "local" / "credentials.yml"
    if not path.exists():
        return {}
    import yaml

    creds = yaml.safe_load(path.read_text()) or {}
    return {code: creds[f"{code}_db"]["con"] for code in RETAILERS
            if isinstance(creds.get(f"{code}_db"), dict) and creds[f"{code}_db"].get("con")}


def database_url(code: str, explicit: str | None = None) -> str:
    url = explicit or spec(code).env_database_url() or credentials_urls().get(code)
    if not url:
        raise SystemExit(
            f"No database URL for {code}: pass --database-url, set {spec(code).env_prefix}_DATABASE_URL, "
            f"or run `make up` so conf/local/credentials.yml has {code}_db.con."
        )
    return url


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _fraction(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {value}")
    return number


def _codes(value: str) -> list[str]:
    codes = [c.strip() for c in value.split(",") if c.strip()]
    for code in codes:
        if code not in RETAILERS:
            raise argparse.ArgumentTypeError(f"unknown retailer {code!r} (known: {', '.join(RETAILERS)})")
    return codes


def cmd_seed(args: argparse.Namespace) -> int:
    from retailers.generator import seed

    if args.end < args.start:
        raise SystemExit(f"--end ({args.end}) is before --start ({args.start})")
    codes = args.retailers or list(RETAILERS)
    dsns = {code: database_url(code) for code in codes}
    summary = seed(dsns, args.start, args.end, args.rows_per_day, args.bad_fraction,
                   args.late_fraction, args.seed, args.as_of, codes)
    print(f"Seeded {args.start} .. {args.end}, {args.rows_per_day} rows/day, seed {args.seed}")
    for code, stats in summary.items():
        bad = sum(stats["bad"].values())
        kinds = ", ".join(f"{k}={v}" for k, v in stats["bad"].items() if v)
        print(f"  {code}: {stats['rows']} rows over {stats['days']} day(s), {bad} bad"
              f"{f' ({kinds})' if kinds else ''}, {stats['late']} late, {stats['seconds']}s")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib

    from retailers.common.server import serve

    s = spec(args.retailer)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {s.code} %(levelname)s %(name)s: %(message)s")
    url = database_url(s.code, args.database_url)
    module = importlib.import_module(f"retailers.{s.code}.app")
    app = module.create_app(url, args.api_key or s.env_api_key())
    threads = int(os.environ.get("RETAILER_THREADS", "8"))
    serve(app, args.host, args.port or s.env_port(), threads=threads, name=s.code)
    return 0


def cmd_init_db(args: argparse.Namespace) -> int:
    from retailers.common.db import init_db

    init_db(args.retailer, database_url(args.retailer, args.database_url))
    print(f"{args.retailer}: schema applied ({spec(args.retailer).table})")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m retailers", description="The three simulated retailer systems.")
    sub = p.add_subparsers(dest="command", required=True)

    seed = sub.add_parser("seed", help="fill the retailer databases for a date range (replaces it)")
    seed.add_argument("--start", type=_date, required=True)
    seed.add_argument("--end", type=_date, required=True)
    seed.add_argument("--rows-per-day", type=int, default=1000)
    seed.add_argument("--bad-fraction", type=_fraction, default=0.0)
    seed.add_argument("--late-fraction", type=_fraction, default=0.0)
    seed.add_argument("--seed", type=int, default=42)
    seed.add_argument("--as-of", type=_date, default=None, help="'today' for future_date rows (default: today UTC)")
    seed.add_argument("--retailers", type=_codes, default=None, help="comma-separated codes (default: all)")
    seed.set_defaults(func=cmd_seed)

    serve = sub.add_parser("serve", help="run one retailer API (waitress)")
    serve.add_argument("--retailer", choices=list(RETAILERS), required=True)
    serve.add_argument("--port", type=int, default=None, help="default: RETAILERn_PORT or the contract port")
    serve.add_argument("--host", default=os.environ.get("RETAILER_HOST", "127.0.0.1"))
    serve.add_argument("--database-url", default=None)
    serve.add_argument("--api-key", default=None, help="default: RETAILERn_API_KEY or the development key")
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init-db", help="apply the retailer's schema SQL (idempotent)")
    init.add_argument("--retailer", choices=list(RETAILERS), required=True)
    init.add_argument("--database-url", default=None)
    init.set_defaults(func=cmd_init_db)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "rows_per_day", 1) < 0:
        raise SystemExit("--rows-per-day must be >= 0")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
