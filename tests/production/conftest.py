"""Fixtures of the production-path tests: a warehouse with real roles, a test conf wired to the
test stack (PostgreSQL, the retailer APIs, a temp raw zone), and the Airflow virtualenv.

- `airflow_venv` (session): .venv-airflow made by airflow/setup_airflow_venv.sh (cached across
  runs; the first install takes about a minute from the package mirror).
- `prod_warehouse` (session): a copy of the migrated warehouse template (tests/fixtures/warehouse.py),
  owned by the loader role, so bi_reader's grants are the real ones.
- `prod_conf` (session): a copy of conf/ whose local env points at the warehouse, the APIs and a
  temp raw zone; `.run(...)` runs the real project in a subprocess (`python -m kedro run`).
- `seed_days`: truncate-and-seed the retailer databases for a range.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.kedro_project import KedroProject
from tests.fixtures.retailers import api_credentials
from tests.fixtures.warehouse import READER, Warehouse, copy_warehouse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def airflow_venv() -> Path:
    """The Airflow virtualenv (own dependencies, never the project's)."""
    result = subprocess.run(
        ["bash", str(ROOT / "airflow" / "setup_airflow_venv.sh")],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    if result.returncode != 0:
        pytest.fail(f"airflow/setup_airflow_venv.sh failed:\n{result.stderr[-4000:]}")
    venv = Path(result.stdout.strip().splitlines()[-1])
    assert (venv / "bin" / "airflow").exists(), venv
    return venv


@pytest.fixture(scope="session")
def prod_warehouse(pg_server, warehouse_template, loader_password) -> Warehouse:
    """A migrated warehouse for the whole session (the Airflow runs and the notebook share it)."""
    wh = copy_warehouse(pg_server, warehouse_template, loader_password, prefix="prod_wh")
    try:
        yield wh
    finally:
        pg_server.drop_database(wh.dbname)


@pytest.fixture
def bi_reader_password(pg_server) -> str:
    """bi_reader gets LOGIN and a password of this test (other tests set their own)."""
    password = secrets.token_hex(12)
    pg_server.ensure_role(READER, password)
    return password


class ProdConf(KedroProject):
    """conf/ copy for the test stack, plus a subprocess runner of the real project."""

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update({"KEDRO_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}, **extra)
        return env

    def run(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:  # type: ignore[override]
        cmd = [sys.executable, "-m", "kedro", "run", "--conf-source", str(self.conf), *args]
        result = subprocess.run(cmd, cwd=ROOT, env=self.env(), capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(cmd[2:])} failed ({result.returncode}):\n"
                        f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
        return result

    def set_reader(self, url: str) -> None:
        self.write_yaml("local/credentials.yml", {"warehouse_reader": {"con": url}})


def make_prod_conf(root: Path, warehouse: Warehouse, retailer_apis, retailer_databases) -> ProdConf:
    """A conf/ copy under `root` whose raw zone is `root`/data and whose warehouse is `warehouse`."""
    project = ProdConf(root)
    project.write_yaml("local/globals.yml", {
        "raw_zone": str(project.data / "01_raw"),
        "reporting": str(project.data / "08_reporting"),
    })
    project.write_yaml("local/credentials.yml", {
        "warehouse": {"con": warehouse.url},
        "warehouse_reader": {"con": warehouse.url},
        **{f"{code}_api": api_credentials(api)
           for code, api in retailer_apis.items()},
        **{f"{code}_db": {"con": dsn} for code, dsn in retailer_databases.items()},
        "raw_zone": {},
    })
    return project


@pytest.fixture(scope="session")
def prod_conf(tmp_path_factory, prod_warehouse, retailer_apis, retailer_databases) -> ProdConf:
    return make_prod_conf(tmp_path_factory.mktemp("prod-conf"), prod_warehouse, retailer_apis, retailer_databases)


@pytest.fixture
def seed_days(retailer_databases):
    """seed_days(start, end, rows_per_day=..., retailers=[...]): replace the retailers' data."""
    from retailers.generator import seed
    from tests.fixtures.retailers import truncate_retailers

    def _seed(start: str, end: str, rows_per_day: int = 40, bad_fraction: float = 0.0,
              late_fraction: float = 0.0, retailers=None, truncate: bool = True):
        codes = list(retailers or retailer_databases)
        if truncate:
            truncate_retailers(retailer_databases)
        return seed(retailer_databases, start, end, rows_per_day, bad_fraction, late_fraction,
                    7, "2030-01-01", codes)

    return _seed
