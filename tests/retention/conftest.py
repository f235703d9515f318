"""Fixtures of the retention tests: the real project (a temp conf), a migrated warehouse on the
real PostgreSQL, the real retailer APIs, and helpers that read what the warehouse and the zones
hold. moto's S3 fixtures come from tests/ingestion/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingestion.conftest import api_credentials, s3_bucket, s3_fs, s3_project  # noqa: F401 - fixtures


@pytest.fixture
def retention_project(kedro_project, warehouse, retailer_apis):
    """The project wired to a fresh warehouse, the test APIs and a local zone under tmp."""
    kedro_project.write_yaml("local/credentials.yml", {**api_credentials(retailer_apis),
                                                      "warehouse": {"con": warehouse.url}})
    kedro_project.warehouse = warehouse
    kedro_project.zone_root = kedro_project.data / "01_raw"
    kedro_project.backfill_dir = kedro_project.data / "backfill"
    return kedro_project


def zone_files(root: Path) -> dict[str, int]:
    """Every file under a local zone root (relative path -> size), _staging excluded."""
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*"))
            if p.is_file() and not str(p.relative_to(root)).startswith("_staging")}
