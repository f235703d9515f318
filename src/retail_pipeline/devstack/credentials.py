"""conf/local/credentials.yml for Kedro and a libpq password file for `make psql`.

One `<code>_api` and one `<code>_db` entry per registry retailer; the `_api` entry carries the
secrets its auth style needs (docs/contracts.md).
"""

from __future__ import annotations

import yaml

from retail_pipeline.devstack.config import HOST, LOADER_ROLE, READER_ROLE, WAREHOUSE_DB, StackConfig
from retail_pipeline.devstack.state import write_private

HEADER = (
    "# Written by `make up` (python -m retail_pipeline.devstack up); regenerated on every up.\n"
    "# Local development credentials only: git-ignored, never commit.\n"
)


def db_url(config: StackConfig, dbname: str, role: str, password: str, driver: bool = True) -> str:
    scheme = "postgresql+psycopg2" if driver else "postgresql"
    return f"{scheme}://{role}:{password}@{HOST}:{config.pg_port}/{dbname}"


def retailer_db_url(config: StackConfig, code: str, passwords: dict[str, str]) -> str:
    """libpq URL of a retailer's simulated database, as the loader role."""
    return db_url(config, config.simulators[code].database, LOADER_ROLE, passwords.get(LOADER_ROLE, ""), driver=False)


def credentials(config: StackConfig, passwords: dict[str, str]) -> dict[str, dict]:
    """The credentials entries, in the file's order."""
    entries: dict[str, dict] = {
        "warehouse": {"con": db_url(config, WAREHOUSE_DB, LOADER_ROLE, passwords[LOADER_ROLE])},
        "warehouse_reader": {"con": db_url(config, WAREHOUSE_DB, READER_ROLE, passwords[READER_ROLE])},
    }
    for code, sim in config.simulators.items():
        entries[f"{code}_api"] = {"base_url": sim.base_url, **sim.secrets}
    for code in config.simulators:
        entries[f"{code}_db"] = {"con": retailer_db_url(config, code, passwords)}
    entries["raw_zone"] = {}  # the raw zone is the local folder data/01_raw: no keys
    return entries


def credentials_yaml(config: StackConfig, passwords: dict[str, str]) -> str:
    """conf/local/credentials.yml as docs/contracts.md lays it out: one flow-style line per entry."""
    lines = [HEADER.rstrip("\n")]
    for name, entry in credentials(config, passwords).items():
        text = yaml.safe_dump({name: entry}, default_flow_style=None, sort_keys=False, width=10_000)
        lines.append(text.rstrip("\n"))
    return "\n".join(lines) + "\n"


def write_credentials(config: StackConfig, passwords: dict[str, str]) -> None:
    write_private(config.credentials_file, credentials_yaml(config, passwords))
    # A libpq password file, so `psql` can be shown without printing a password.
    entries = [
        f"{HOST}:{config.pg_port}:*:{LOADER_ROLE}:{passwords[LOADER_ROLE]}",
        f"{HOST}:{config.pg_port}:*:{READER_ROLE}:{passwords[READER_ROLE]}",
    ]
    write_private(config.pgpass_file, "\n".join(entries) + "\n")
