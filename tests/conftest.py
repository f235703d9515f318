"""Fixtures shared by the whole suite: real servers on free loopback ports.

Each area of the suite adds its own fixtures in tests/<area>/conftest.py or as a plugin
module under tests/fixtures/ (listed in `pytest_plugins` below).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

from retail_pipeline.localstack.postgres import LocalPostgres, free_port  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = [
    name
    for name in (
        f"tests.fixtures.{path.stem}"
        for path in sorted((PROJECT_ROOT / "tests" / "fixtures").glob("*.py"))
        if path.stem != "__init__"
    )
]


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL 16 cluster for the whole test session, stopped at the end."""
    workdir = Path(tempfile.mkdtemp(prefix="retail-test-pg-"))
    server = LocalPostgres(workdir / "pgdata", free_port(), secrets.token_urlsafe(16))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server in HTTP mode on a free port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
