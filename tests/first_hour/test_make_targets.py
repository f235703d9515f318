"""`make clean` and `make status` in a copy of the checkout (never the developer's own).

- `make clean` deletes what `make run`, `make test`, the DAG tools and the notebooks leave
  behind, keeps every file a clone has, and names what it keeps (secrets the user wrote).
- `make status` on a stopped stack is a report (exit 0), not a `make: *** Error`.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.first_hour.project_copy import ROOT, checkout_files, new_user_checkout

LEFT_BY_RUNS = [  # what make run, make test, make dag, kedro viz and the notebooks write
    ".venv-airflow/bin/airflow",
    ".stack/secrets.json",
    ".stack/pgdata/PG_VERSION",
    "conf/local/credentials.yml",
    "data/01_raw/raw/retailer_1/year=2024/month=01/day=15/sales_data.json",
    "data/01_raw/manifests/retailer_1/run_date=2024-01-15/manifest.json",
    "data/02_intermediate/backfill/2024-01-01_2024-01-03_ingestion+transformation_local.json",
    "data/08_reporting/dq_report_latest.html",
    "logs/kedro.log",
    "logs/kedro.log.1",
    "logs/retailer_1.log",
    ".viz/kedro_pipeline_events.json",
    "build/index.html",
    ".pytest_cache/README.md",
    "src/retail_pipeline/__pycache__/settings.cpython-311.pyc",
    "notebooks/.ipynb_checkpoints/star_schema_exploration-checkpoint.ipynb",
]
USERS_OWN = [".env", "conf/s3/credentials.yml", "conf/local/globals.yml"]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    return new_user_checkout(tmp_path_factory.mktemp("make-targets") / "retail-pipeline")


def make(project, *args: str, **env: str) -> subprocess.CompletedProcess:
    # A user's shell, not a make recipe: `make test` would pass MAKEFLAGS/MAKELEVEL down, and the
    # inner make would then print "Entering/Leaving directory" lines.
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "RETAIL", "KEDRO_", "MAKE", "MFLAGS"))}
    return subprocess.run(["make", *args], cwd=project, env={**base, **env}, capture_output=True,
                          text=True, timeout=300)


def test_status_of_a_stopped_stack_is_a_report_not_an_error(checkout, tmp_path):
    result = make(checkout, "status", RETAIL_STACK_DIR=str(tmp_path / "no-stack"))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "down" in result.stdout and "make up" in result.stdout, out
    assert "Error" not in out and "***" not in out, out


def test_clean_leaves_what_a_clone_has_and_names_what_it_keeps(checkout):
    # What a clone has (not what is there now: the earlier test's `make status` may have logged).
    cloned = {checkout / relative for relative in checkout_files(ROOT)}
    for relative in LEFT_BY_RUNS + USERS_OWN:
        path = checkout / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("made by a run\n")

    result = make(checkout, "clean")
    assert result.returncode == 0, result.stdout + result.stderr

    left = {p for p in checkout.rglob("*") if p.is_file()}
    assert left - cloned == {checkout / r for r in USERS_OWN}, sorted(map(str, left - cloned))
    assert cloned <= left, sorted(map(str, cloned - left))   # .gitkeep files and the code stay
    assert not (checkout / ".venv").exists() and not (checkout / ".stack").exists()
    assert not (checkout / "data" / "01_raw" / "raw").exists()
    kept = result.stdout.strip().splitlines()[-1]
    assert all(relative in kept for relative in USERS_OWN), kept
