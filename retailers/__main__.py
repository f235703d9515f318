"""Command line for the retailer systems: seed, serve, init-db.

    python -m retailers seed --start 2024-01-01 --end 2024-01-07 --rows-per-day 1000 \\
        --bad-fraction 0.02 --late-fraction 0.05 --seed 42 [--retailers retailer_1,retailer_4]
    python -m retailers serve --style retailer_2 --code acme_foods --port 5005
    python -m retailers serve --retailer retailer_1          (a style served as itself)
    python -m retailers init-db --style retailer_4 --code retailer_4 --database-url URL

An instance is a style (the app package under retailers/) served as a retailer `--code`
(default: the style's own name). Connection strings and secrets come from arguments, else env
vars prefixed with the code upper-cased without non-alphanumerics (RETAILER1_DATABASE_URL,
ACMEFOODS_API_KEY, RETAILER4_CLIENT_ID, RETAILER4_CLIENT_SECRET, RETAILER4_PORT ...), else
conf/local/credentials.yml (<code>_db.con) and the development defaults. Keys and passwords
are never printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path

from retailers.common.registry import AUTH_SECRETS, RETAILERS, Instance, instance

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SECRET_OPTIONS = {"api_key": "--api-key", "client_id": "--client-id", "client_secret": "--client-secret"}
SETTING_OPTIONS = {"token_ttl": "--token-ttl", "page_size": "--page-size"}


def credentials_urls(path: Path | None = None) -> dict[str, str]:
    """retailer code -> DSN from conf/local/credentials.yml (`<code>_db.con`), where the local
    stack writes them."""
    path = path or PROJECT_ROOT / "conf" / "local" / "credentials.yml"
    if not path.exists():
        return {}
    import yaml

    creds = yaml.safe_load(path.read_text()) or {}
    return {key[: -len("_db")]: value["con"] for key, value in creds.items()
            if key.endswith("_db") and isinstance(value, dict) and value.get("con")}


def database_url(code: str | Instance, explicit: str | None = None) -> str:
    inst = code if isinstance(code, Instance) else instance(code)
    url = explicit or inst.database_url() or credentials_urls().get(inst.code)
    if not url:
        raise SystemExit(
            f"No database URL for {inst.code}: pass --database-url, set {inst.env_prefix}_DATABASE_URL, "
            f"or run `make up` so conf/local/credentials.yml has {inst.code}_db.con."
        )
    return url


def _instance(args: argparse.Namespace) -> Instance:
    """The instance named by --code/--retailer and --style (one of them at least)."""
    code = args.code or args.style
    if code is None:
        raise SystemExit("Say which retailer: --code CODE [--style STYLE], or --style STYLE alone.")
    try:
        return instance(code, args.style)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


def _only_for_style(inst: Instance, given: dict[str, object], accepted: tuple[str, ...], names: dict[str, str]) -> None:
    wrong = [names[k] for k, v in given.items() if v is not None and k not in accepted]
    if wrong:
        raise SystemExit(f"{', '.join(wrong)} does not apply to style {inst.style} "
                         f"(it takes {', '.join(names[k] for k in accepted) or 'none of these'}).")


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
            raise argparse.ArgumentTypeError(f"unknown retailer style {code!r} (known: {', '.join(RETAILERS)}); "
                                             f"for another code use --code CODE --style STYLE")
    return codes


def cmd_seed(args: argparse.Namespace) -> int:
    from retailers.generator import seed

    if args.end < args.start:
        raise SystemExit(f"--end ({args.end}) is before --start ({args.start})")
    if args.code or args.style:
        if args.retailers:
            raise SystemExit("Give either --retailers (styles) or --code/--style (one instance), not both.")
        inst = _instance(args)
        instances = [inst]
    else:
        instances = [instance(code) for code in args.retailers or RETAILERS]
    dsns = {inst.code: database_url(inst) for inst in instances}
    styles = {inst.code: inst.style for inst in instances}
    summary = seed(dsns, args.start, args.end, args.rows_per_day, args.bad_fraction,
                   args.late_fraction, args.seed, args.as_of, list(dsns), styles=styles)
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

    inst = _instance(args)
    given_secrets = {name: getattr(args, name) for name in SECRET_OPTIONS}
    given_settings = {name: getattr(args, name) for name in SETTING_OPTIONS}
    _only_for_style(inst, given_secrets, AUTH_SECRETS[inst.spec.auth], SECRET_OPTIONS)
    _only_for_style(inst, given_settings, inst.spec.settings, SETTING_OPTIONS)
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s {inst.code} %(levelname)s %(name)s: %(message)s")
    url = database_url(inst, args.database_url)
    module = importlib.import_module(f"retailers.{inst.style}.app")
    try:
        settings = inst.settings(given_settings)
        app = module.create_app(url, code=inst.code, **inst.secrets(given_secrets), **settings)
    except ValueError as exc:
        raise SystemExit(f"{inst.code}: {exc}") from None
    threads = int(os.environ.get("RETAILER_THREADS", "8"))
    serve(app, args.host, args.port or inst.port(), threads=threads, name=inst.code)
    return 0


def cmd_init_db(args: argparse.Namespace) -> int:
    from retailers.common.db import init_db

    inst = _instance(args)
    init_db(inst.style, database_url(inst, args.database_url))
    print(f"{inst.code}: schema applied ({', '.join(inst.spec.tables)})")
    return 0


def _instance_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--style", choices=list(RETAILERS), default=None,
                         help="the API style (app package); default: the one named like --code")
    command.add_argument("--code", "--retailer", dest="code", default=None,
                         help="the retailer code it answers as; default: the style's name")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m retailers", description="The simulated retailer systems.")
    sub = p.add_subparsers(dest="command", required=True)

    seed = sub.add_parser("seed", help="fill the retailer databases for a date range (replaces it)")
    seed.add_argument("--start", type=_date, required=True)
    seed.add_argument("--end", type=_date, required=True)
    seed.add_argument("--rows-per-day", type=int, default=1000)
    seed.add_argument("--bad-fraction", type=_fraction, default=0.0)
    seed.add_argument("--late-fraction", type=_fraction, default=0.0)
    seed.add_argument("--seed", type=int, default=42)
    seed.add_argument("--as-of", type=_date, default=None, help="'today' for future_date rows (default: today UTC)")
    seed.add_argument("--retailers", type=_codes, default=None, help="comma-separated styles (default: all)")
    _instance_options(seed)
    seed.set_defaults(func=cmd_seed)

    serve = sub.add_parser("serve", help="run one retailer API (waitress)")
    _instance_options(serve)
    serve.add_argument("--port", type=int, default=None, help="default: <PREFIX>_PORT or the style's port")
    serve.add_argument("--host", default=os.environ.get("RETAILER_HOST", "127.0.0.1"))
    serve.add_argument("--database-url", default=None)
    serve.add_argument("--api-key", default=None, help="api_key styles; default: <PREFIX>_API_KEY or the development key")
    serve.add_argument("--client-id", default=None, help="retailer_4; default: <PREFIX>_CLIENT_ID or <prefix>_client")
    serve.add_argument("--client-secret", default=None,
                       help="retailer_4; default: <PREFIX>_CLIENT_SECRET or <prefix>_secret_123 (prefer the env: ps shows arguments)")
    serve.add_argument("--token-ttl", type=int, default=None, help="retailer_4: token lifetime in seconds (default 60)")
    serve.add_argument("--page-size", type=int, default=None, help="retailer_4: orders per page (default 500)")
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init-db", help="apply the retailer's schema SQL (idempotent)")
    _instance_options(init)
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
