"""The Kedro env `docker` (conf/docker + docker/kedro/credentials.yml, as the Airflow image lays
them out): credentials come from the environment only, and the raw zone round-trips through a
real S3 endpoint (moto's server standing in for MinIO) at the contract's layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS
from tests.production.test_athena_layout import record

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "retail-raw-zone"
S3_ENTRIES = ("{retailer}.raw_sales", "{retailer}.quarantined_sales", "{retailer}.ingestion_manifest")
ENV = {
    "RETAIL_LOADER_PASSWORD": "loader-from-env", "BI_READER_PASSWORD": "reader-from-env",
    "RETAILER_DB_PASSWORD": "db-from-env", "RETAILER1_API_KEY": "k1-from-env",
    "RETAILER2_API_KEY": "k2-from-env", "RETAILER3_API_KEY": "k3-from-env",
    "RETAILER4_CLIENT_ID": "c4-from-env", "RETAILER4_CLIENT_SECRET": "s4-from-env",
    "MINIO_ROOT_USER": "testing", "MINIO_ROOT_PASSWORD": "testing",
}


@pytest.fixture
def docker_conf(tmp_path, monkeypatch, s3_server) -> Path:
    """conf/ as docker/airflow.Dockerfile lays it out, the environment as the compose file sets it."""
    import boto3

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf, ignore=shutil.ignore_patterns("local"))
    (conf / "local").mkdir()
    shutil.copy(ROOT / "docker" / "kedro" / "credentials.yml", conf / "docker" / "credentials.yml")
    for key, value in {**ENV, "S3_ENDPOINT_URL": s3_server}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    if BUCKET not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
        client.create_bucket(Bucket=BUCKET)
    return conf


def _context(conf: Path, **runtime_params):
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    configure_project("retail_pipeline")
    session = KedroSession.create(project_path=ROOT, env="docker", conf_source=str(conf),
                                  runtime_params=runtime_params or None)
    return session.load_context()


def test_credentials_come_from_the_environment(docker_conf, s3_server):
    creds = _context(docker_conf).config_loader["credentials"]
    assert creds["warehouse"]["con"] == (
        "postgresql+psycopg2://retail_loader:loader-from-env@warehouse:5432/retail_analytics")
    assert creds["warehouse_reader"]["con"].startswith("postgresql+psycopg2://bi_reader:reader-from-env@warehouse:5432/")
    assert creds["retailer_2_api"] == {"base_url": "http://retailer-2-api:5002", "api_key": "k2-from-env"}
    assert creds["retailer_4_api"] == {"base_url": "http://retailer-4-api:5004", "client_id": "c4-from-env",
                                       "client_secret": "s4-from-env"}
    assert creds["raw_zone"]["client_kwargs"]["endpoint_url"] == s3_server


def test_raw_zone_entries_differ_from_local_only_in_location(docker_conf):
    from retail_pipeline.settings import CONFIG_LOADER_ARGS, ConfigLoader

    def catalog(env):
        args = {**CONFIG_LOADER_ARGS, "default_run_env": env}  # the registry is read with the globals
        return ConfigLoader(str(docker_conf), **args)["catalog"]

    base, docker = catalog("local"), catalog("docker")
    for name in S3_ENTRIES:
        entry, expected = dict(docker[name]), dict(base[name])
        assert entry["credentials"] == "raw_zone", name
        location = "root" if "root" in entry else "filepath"    # globals differ by design
        assert entry.pop(location).startswith("s3://retail-raw-zone")
        expected.pop(location)
        assert entry == expected, f"the docker env changes {name} beyond its location"


def test_raw_zone_round_trips_through_s3(docker_conf, s3_server):
    import boto3

    context = _context(docker_conf, run_date="2024-01-31", lookback_days=1)
    catalog = context.catalog
    rows = pd.DataFrame([record("retailer_1", n, day) for day in ("2024-01-30", "2024-01-31") for n in (1, 2)],
                        columns=list(CANONICAL_COLUMNS))
    money = ["unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost"]
    rows[money] = rows[money].astype("float64")
    manifest = {"run_id": "r", "window_start": "2024-01-30", "window_end": "2024-01-31",
                "rows_written": len(rows), "rows_quarantined": 0}
    # The window's raw rows, quarantine and manifest are one commit (RawZoneDataset).
    catalog.save("retailer_1.raw_sales", {"raw": rows, "quarantine": rows.iloc[:0], "manifest": manifest})

    client = boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="")["Contents"]}
    assert "raw/retailer_1/year=2024/month=01/day=30/sales_data.json" in keys
    assert "raw/retailer_1/year=2024/month=01/day=31/sales_data.json" in keys
    assert "manifests/retailer_1/run_date=2024-01-31/manifest.json" in keys
    back = catalog.load("retailer_1.raw_sales").to_frame()
    assert sorted(back["transaction_id"]) == sorted(rows["transaction_id"])
