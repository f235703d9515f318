"""Ingestion test helpers: the real retailer apps, moto's S3 server, a Kedro project per test."""

from __future__ import annotations

import copy
import uuid
from contextlib import closing
from pathlib import Path

import orjson
import psycopg2
import pytest
import yaml

from retailers.common.registry import RETAILERS
from tests.fixtures.kedro_project import PLACEHOLDER_CREDENTIALS, PROJECT_ROOT
from tests.fixtures.kedro_project import RETAILERS as REGISTRY
from tests.fixtures.kedro_project import credentials_for

BUCKET = "retail-raw-zone-test"


def api_credentials(retailer_apis) -> dict:
    """The test APIs' credentials over placeholders for the rest (the s3 env has no conf/local)."""
    return {**PLACEHOLDER_CREDENTIALS,
            **{f"{code}_api": credentials_for(REGISTRY[code], api["base_url"],
                                              api.get("api_key") or api.get("client_secret"), api.get("client_id"))
               for code, api in retailer_apis.items() if code in REGISTRY}}


API_FACTORY = "{retailer}.api_sales"


def api_catalog_override(page_size: int | None = None, retry: dict | None = None, concurrency: int | None = None) -> dict:
    """The API dataset factory of conf/base/catalog_ingestion.yml with test-sized retries; a
    page size is set in a copy of the registry the entry passes (paging lives in retailers.yml;
    servers that choose their own page size ignore it)."""
    base = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog_ingestion.yml").read_text())
    entry = copy.deepcopy(base[API_FACTORY])
    if page_size:
        registry = copy.deepcopy(REGISTRY)
        for retailer in registry.values():
            if "page_size" in retailer["api"].get("paging", {}):
                retailer["api"]["paging"]["page_size"] = page_size
        entry["retailers"] = registry
    if retry:
        entry["retry"] = {**entry["retry"], **retry}
    if concurrency:
        entry["concurrency"] = concurrency
    return {API_FACTORY: entry}


@pytest.fixture(scope="session")
def s3_bucket(s3_server):
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def s3_fs(s3_server):
    import s3fs

    fs = s3fs.S3FileSystem(key="testing", secret="testing", client_kwargs={"endpoint_url": s3_server},
                           skip_instance_cache=True)
    return fs


@pytest.fixture
def s3_project(kedro_project, retailer_apis, s3_server, s3_bucket):
    """A Kedro project whose `s3` env writes to a fresh prefix of the moto bucket."""
    prefix = f"{s3_bucket}/run-{uuid.uuid4().hex[:8]}"
    kedro_project.write_yaml("s3/credentials.yml", {
        **api_credentials(retailer_apis),
        "raw_zone": {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": s3_server}},
    })
    kedro_project.write_yaml("s3/globals.yml", {"raw_zone": f"s3://{prefix}",
                                                "reporting": str(kedro_project.data / "08_reporting")})
    kedro_project.zone_prefix = prefix
    return kedro_project


@pytest.fixture
def local_project(kedro_project, retailer_apis):
    kedro_project.write_yaml("local/credentials.yml", api_credentials(retailer_apis))
    kedro_project.zone_root = kedro_project.data / "01_raw"
    return kedro_project


def rows_in_window(dsn: str, code: str, start: str, end: str) -> int:
    """What the retailer's API serves for [start, end]: rows (order lines, for a style whose
    orders carry lines) whose timestamp's local date, in the stores' time zone, is in it."""
    spec = RETAILERS[code]
    day = f'"{spec.ts_column}"' if spec.timezone == "UTC" else f"""("{spec.ts_column}" AT TIME ZONE '{spec.timezone}')"""
    rows = spec.table if not spec.extra_tables else f"{spec.table} JOIN {spec.extra_tables[0]} USING ({spec.id_column})"
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {rows} WHERE {day} >= %s::date AND {day} < %s::date + 1", (start, end))
        return cur.fetchone()[0]


def read_zone_files(fs, root: str, zone: str) -> dict[str, bytes]:
    """{relative path: content} of every JSON Lines file under {root}/{zone}."""
    found = {}
    for path in sorted(fs.glob(f"{root}/{zone}/*/*/*/*/*.json")):
        found[path[len(root) + 1:]] = fs.cat_file(path)
    return found


def records(files: dict[str, bytes]) -> list[dict]:
    return [orjson.loads(line) for content in files.values() for line in content.splitlines() if line.strip()]


def without_lineage(files: dict[str, bytes]) -> dict[str, list[dict]]:
    out = {}
    for path, content in files.items():
        rows = [orjson.loads(line) for line in content.splitlines() if line.strip()]
        out[path] = [{k: v for k, v in row.items() if k not in ("run_id", "ingested_at")} for row in rows]
    return out


def download(fs, prefix: str, target: Path) -> Path:
    fs.get(f"{prefix}/", str(target), recursive=True)
    return target
