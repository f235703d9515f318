"""docker-compose.yml: services, ports, images/builds, health checks, order, and no secrets.

There is no Docker engine here, so the file is parsed and checked for what `docker compose up`
relies on; docs/production.md says how to run it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"

ONE_SHOT = {"retailer-seed", "warehouse-migrate", "minio-init", "airflow-init"}
LONG_RUNNING = {
    "retailer-1-db": "5433:5432", "retailer-2-db": "5434:5432", "retailer-3-db": "5435:5432",
    "retailer-1-api": "5001:5001", "retailer-2-api": "5002:5002", "retailer-3-api": "5003:5003",
    "warehouse": "5432:5432", "minio": "9000:9000", "airflow-apiserver": "8080:8080",
    "airflow-db": None, "airflow-scheduler": None, "airflow-dag-processor": None,
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_every_service_is_declared(services):
    assert set(services) == set(LONG_RUNNING) | ONE_SHOT


def test_ports_follow_the_contract(services):
    for name, port in LONG_RUNNING.items():
        if port:
            assert port in services[name].get("ports", []), f"{name} should publish {port}"
    # Airflow's metadata database is private: nothing publishes it, and it is not the warehouse.
    assert "ports" not in services["airflow-db"]


def test_images_and_builds(services):
    for name in ("warehouse", "airflow-db", "retailer-1-db", "retailer-2-db", "retailer-3-db"):
        assert services[name]["image"] == "postgres:14", name
    for n in (1, 2, 3):
        build = services[f"retailer-{n}-api"]["build"]
        assert build["dockerfile"] == "docker/retailer.Dockerfile"
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-init",
                 "warehouse-migrate"):
        assert services[name]["build"]["dockerfile"] == "docker/airflow.Dockerfile", name
    assert (ROOT / "docker" / "airflow.Dockerfile").read_text().count("apache/airflow:3.") == 1
    assert services["minio"]["image"].startswith("minio/minio")
    assert services["minio-init"]["image"].startswith("minio/mc")


def test_long_running_services_have_health_checks(services):
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check["test"], f"{name} has no health check"
    assert "/health" in " ".join(services["retailer-1-api"]["healthcheck"]["test"])


def test_startup_order_waits_for_health(services):
    def conditions(name):
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}

    for n in (1, 2, 3):
        assert conditions(f"retailer-{n}-api") == {f"retailer-{n}-db": "service_healthy"}
    assert conditions("warehouse-migrate") == {"warehouse": "service_healthy"}
    assert conditions("minio-init") == {"minio": "service_healthy"}
    scheduler = conditions("airflow-scheduler")
    assert scheduler["airflow-init"] == "service_completed_successfully"
    assert scheduler["warehouse-migrate"] == "service_completed_successfully"
    assert scheduler["minio-init"] == "service_completed_successfully"
    for n in (1, 2, 3):
        assert scheduler[f"retailer-{n}-api"] == "service_healthy"
    for name in ONE_SHOT:
        assert services[name].get("restart") == "no", name


def test_airflow_runs_the_generated_dag_with_the_project(services):
    scheduler = services["airflow-scheduler"]
    assert "./airflow/dags:/opt/airflow/dags:ro" in scheduler["volumes"]
    env = scheduler["environment"]
    assert env["KEDRO_ENV"] == "docker"
    assert env["KEDRO_PYTHON"] == "/opt/retail/.venv/bin/python"
    # Airflow's metadata lives in airflow-db, never in the warehouse.
    assert "@airflow-db:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert (ROOT / "conf" / "docker" / "globals.yml").is_file()
    assert yaml.safe_load((ROOT / "conf" / "docker" / "globals.yml").read_text())["raw_zone"].startswith("s3://")


def _values(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
    else:
        yield str(node)


def test_no_secret_literal_in_the_compose_file(compose, services):
    secret_key = re.compile(r"(PASSWORD|SECRET|FERNET|API_KEY)$")
    for name, service in services.items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if secret_key.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:\?[^}]*)?\}", str(value)), f"{name}.{key} is a literal"
        for value in _values(service):
            # a password in a URL must be a ${VAR} reference
            for match in re.finditer(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert match.group(1).startswith("${"), f"{name}: literal password in {value!r}"
    text = COMPOSE.read_text()
    for default_key in ("retailer1_api_key_123", "retailer2_api_key_123", "retailer3_api_key_123"):
        assert default_key not in text
    assert "minioadmin" not in text


def test_env_example_has_every_variable_and_no_secret():
    text = "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert used <= set(example), f"missing in .env.example: {sorted(used - set(example))}"
    for key, value in example.items():
        if re.search(r"PASSWORD|SECRET|FERNET|API_KEY", key):
            assert value == "__generate__", key
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_generate_env_writes_private_secrets(tmp_path):
    target = tmp_path / ".env"
    subprocess.run([sys.executable, str(ROOT / "docker" / "generate_env.py"), "--output", str(target)],
                   check=True, capture_output=True, text=True)
    first = dict(line.split("=", 1) for line in target.read_text().splitlines() if line and not line.startswith("#"))
    assert target.stat().st_mode & 0o777 == 0o600
    assert "__generate__" not in first.values()
    assert len({first["RETAIL_LOADER_PASSWORD"], first["BI_READER_PASSWORD"], first["AIRFLOW_DB_PASSWORD"]}) == 3
    # a second run keeps the secrets (databases initialised with them keep working)
    out = subprocess.run([sys.executable, str(ROOT / "docker" / "generate_env.py"), "--output", str(target)],
                         check=True, capture_output=True, text=True).stdout
    again = dict(line.split("=", 1) for line in target.read_text().splitlines() if line and not line.startswith("#"))
    assert again == first
    assert first["BI_READER_PASSWORD"] not in out


def test_docker_credentials_reference_the_environment_only():
    creds = (ROOT / "docker" / "kedro" / "credentials.yml").read_text()
    parsed = yaml.safe_load(creds)
    assert {"warehouse", "warehouse_reader", "raw_zone"} <= set(parsed)
    for value in _values(parsed):
        for match in re.finditer(r"://[^:/@\s]+:([^@\s]+)@", value):
            assert match.group(1).startswith("${oc.env:"), value
    for n in (1, 2, 3):
        assert parsed[f"retailer_{n}_api"]["api_key"].startswith("${oc.env:")
    assert all(parsed["raw_zone"][k].startswith("${oc.env:") for k in ("key", "secret"))
