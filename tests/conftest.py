"""Fixtures shared by the whole suite, and the two test tiers.

Servers: real ones on free loopback ports (`pg_server`, `s3_server` here; the retailer APIs,
warehouses and Airflow in tests/fixtures/ and the areas' conftest.py files). Each area of the
suite adds its own fixtures in tests/<area>/conftest.py or as a plugin module under
tests/fixtures/ (listed in `pytest_plugins` below).

Tiers: every test that needs a server gets the `stack` marker at collection, so
`pytest -m "not stack"` (`make test-fast`) runs the units and the in-memory pipeline tests
(tests/pipelines/) in under a minute, and `pytest` (`make test`, CI) runs everything. A test
needs a server when it uses a fixture of SERVER_FIXTURES, directly or through other fixtures
(`item.fixturenames` is pytest's closure of them), when it lives in a directory of STACK_DIRS,
or when it is marked slow or airflow. A test that starts a server on its own, without one of
those fixtures, says so with `@pytest.mark.stack`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

from retail_pipeline.devstack.postgres import LocalPostgres, free_port  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = [
    name
    for name in (
        f"tests.fixtures.{path.stem}"
        for path in sorted((PROJECT_ROOT / "tests" / "fixtures").glob("*.py"))
        if path.stem != "__init__"
    )
]

# The fixtures that start a server (every other server fixture is built on one of these):
# PostgreSQL (the session cluster and the crashable one), moto's S3 server, the retailer
# simulators over HTTP, Airflow's virtualenv, and the dev stacks the devstack tests bring up.
SERVER_FIXTURES = frozenset({
    "pg_server", "crashable_pg", "s3_server", "retailer_apis", "airflow_venv",
    "stack", "kept_stack",
})
# Areas that run the product as a user or a deployment does (`make` in a fresh checkout, the
# CLI in subprocesses, Airflow, docker-compose, kedro-viz, the notebooks): all full tier.
STACK_DIRS = frozenset({"first_hour", "production"})
# Markers whose tests never belong in the fast tier.
STACK_MARKERS = frozenset({"slow", "airflow"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "stack: needs servers (PostgreSQL, moto, the retailer APIs, Airflow); set by "
        "tests/conftest.py, deselect with -m 'not stack' for the fast tier")


def needs_stack(item: pytest.Item) -> bool:
    """Whether a collected test needs a server (see the module docstring)."""
    tests = PROJECT_ROOT / "tests"
    path = Path(str(item.path))
    area = path.relative_to(tests).parts[0] if path.is_relative_to(tests) else ""
    return (
        area in STACK_DIRS
        or not SERVER_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
        or any(item.get_closest_marker(name) for name in STACK_MARKERS)
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if needs_stack(item):
            item.add_marker(pytest.mark.stack)


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


@pytest.fixture(autouse=True)
def _registry_of_this_test_only():
    """A session in a test activates its conf's retailer registry for the whole process
    (hooks.RegistryHook); put back the one before, so a later test does not build its pipelines
    for another test's retailers (tests/registry/ adds `acme_foods`)."""
    from retail_pipeline import registry

    before = registry._active
    yield
    if registry._active is not before:
        registry._active = before
        from kedro.framework.project import PACKAGE_NAME, pipelines

        if PACKAGE_NAME:
            pipelines.configure(f"{PACKAGE_NAME}.pipeline_registry")
