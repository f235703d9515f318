"""Backfill progress belongs to the warehouse it was made against: after the warehouse is
rebuilt (`make clean`, `make up`, a re-seed), the same backfill command loads every day again
instead of printing `done` over an empty warehouse; against the same warehouse it resumes.

Real parts: the retailer APIs, the raw zone in a temp folder, two migrated warehouses on the
test PostgreSQL, the backfill's own KedroSessions.
"""

from __future__ import annotations

import pytest

from retail_pipeline import backfill
from tests.fixtures.warehouse import copy_warehouse

DAYS = ["--start", "2024-03-04", "--end", "2024-03-05"]


@pytest.fixture
def rebuilt_warehouse(pg_server, warehouse_template, loader_password):
    """A second warehouse, as `make up` creates after `make clean`: migrated, empty."""
    wh = copy_warehouse(pg_server, warehouse_template, loader_password, prefix="wh_rebuilt")
    try:
        yield wh
    finally:
        pg_server.drop_database(wh.dbname)


def point_at(project, warehouse, apis) -> None:
    project.write_yaml("local/credentials.yml", {
        "warehouse": {"con": warehouse.url},
        # base_url and the auth style's secrets (api_key, or client_id and client_secret)
        **{f"{code}_api": {k: v for k, v in api.items() if k != "dsn"} for code, api in apis.items()},
    })


def facts(warehouse) -> int:
    return warehouse.scalar("SELECT count(*) FROM fact_sales WHERE date_id BETWEEN 20240304 AND 20240305")


def test_progress_made_against_another_warehouse_is_not_trusted(
        kedro_project, warehouse, rebuilt_warehouse, retailer_apis, seed_retailers, tmp_path, capsys):
    seed_retailers("2024-03-04", "2024-03-05", rows_per_day=30)
    argv = [*DAYS, "--conf-source", str(kedro_project.conf), "--state-file", str(tmp_path / "progress.json")]

    point_at(kedro_project, warehouse, retailer_apis)
    assert backfill.main(argv) == 0
    loaded = facts(warehouse)
    assert loaded > 0

    point_at(kedro_project, rebuilt_warehouse, retailer_apis)   # the stack was rebuilt
    assert backfill.main(argv) == 0
    assert "another warehouse" in capsys.readouterr().err
    assert facts(rebuilt_warehouse) == loaded

    first_runs = rebuilt_warehouse.query("SELECT DISTINCT run_id FROM fact_sales ORDER BY 1")
    assert backfill.main(argv) == 0                              # same warehouse: nothing to redo
    assert rebuilt_warehouse.query("SELECT DISTINCT run_id FROM fact_sales ORDER BY 1") == first_runs
    assert "another warehouse" not in capsys.readouterr().err


def test_backfill_without_a_warehouse_says_so_and_runs_nothing(kedro_project, tmp_path, capsys):
    state = tmp_path / "progress.json"
    assert backfill.main([*DAYS, "--conf-source", str(kedro_project.conf), "--state-file", str(state)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "warehouse of env 'local' cannot be identified" in err[0] and "make up" in err[-1], err
    assert not state.exists()
