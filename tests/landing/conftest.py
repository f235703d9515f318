"""Landing-zone test helpers: retailer APIs a test may stop, and reading landing sets."""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path

import orjson
import pytest

from retailers.common.registry import RETAILERS
from tests.fixtures.retailers import test_secrets
from tests.ingestion.conftest import s3_bucket, s3_fs  # noqa: F401 - fixtures shared with ingestion


class Apis(dict):
    """{code: {"base_url", secrets..., "dsn"}} of APIs started for one test; `stop()` ends them."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list = []

    def stop(self) -> None:
        while self.started:
            self.started.pop().stop()


@pytest.fixture
def own_apis(retailer_databases):
    """The four retailer apps on fresh ports, for a test that stops them (the session's stay up);
    retailer 4 pages by 25 orders."""
    from retail_pipeline.devstack.ports import free_port
    from retailers.launch import start_api

    logs = Path(tempfile.mkdtemp(prefix="landing-api-logs-"))
    apis = Apis()
    try:
        for code, dsn in retailer_databases.items():
            secrets = test_secrets(code)
            settings = {"page_size": 25} if code == "retailer_4" else None  # next links: the server's size
            api = start_api(code, code, free_port(), dsn, logs / f"{code}.log", secrets=secrets, settings=settings)
            apis.started.append(api)
            apis[code] = {"base_url": api.base_url, **secrets, "dsn": dsn}
        yield apis
    finally:
        apis.stop()
        shutil.rmtree(logs, ignore_errors=True)


def landing_index(fs, root: str, code: str, run_date: str) -> dict:
    y, m, d = run_date.split("-")
    return json.loads(fs.cat_file(f"{root}/landing/{code}/year={y}/month={m}/day={d}/index.json"))


def landing_bodies(fs, root: str, code: str, run_date: str) -> list[dict]:
    """The landing set's response bodies, decompressed and parsed, in file order."""
    index = landing_index(fs, root, code, run_date)
    y, m, d = run_date.split("-")
    folder = f"{root}/landing/{code}/year={y}/month={m}/day={d}/{index['folder']}"
    return [orjson.loads(gzip.decompress(fs.cat_file(f"{folder}/{p['file']}"))) for p in index["page_records"]]


def secrets_of(apis: dict) -> list[str]:
    return [api[key] for api in apis.values() for key in ("api_key", "client_secret") if key in api]


__all__ = ["RETAILERS", "landing_bodies", "landing_index", "secrets_of"]
