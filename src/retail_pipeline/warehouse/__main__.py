"""`python -m retail_pipeline.warehouse migrate [--con URL]`.

Without --con the URL comes from env RETAIL_WAREHOUSE_URL, else from the Kedro credentials
(`warehouse.con` in conf/local/credentials.yml).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from retail_pipeline.warehouse.migrate import MigrationError, apply_migrations

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def warehouse_url(conf_source: str | None = None, env: str = "local") -> str:
    """The loader's connection URL: env RETAIL_WAREHOUSE_URL, else credentials `warehouse.con`."""
    if os.environ.get("RETAIL_WAREHOUSE_URL"):
        return os.environ["RETAIL_WAREHOUSE_URL"]
    from kedro.config import OmegaConfigLoader

    loader = OmegaConfigLoader(conf_source or str(PROJECT_ROOT / "conf"), base_env="base", default_run_env=env)
    try:
        return loader["credentials"]["warehouse"]["con"]
    except KeyError:
        raise SystemExit(
            "No warehouse connection: pass --con URL, set RETAIL_WAREHOUSE_URL, or run `make up` "
            "so conf/local/credentials.yml has warehouse.con."
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retail_pipeline.warehouse")
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="apply sql/warehouse/*.sql that are not applied yet")
    migrate.add_argument("--con", help="postgresql[+psycopg2]://user:pw@host:port/db (the loader role)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        applied = apply_migrations(args.con or warehouse_url())
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ' (up to date)'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
