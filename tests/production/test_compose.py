"""docker-compose.yml: services, ports, images/builds, health checks, order, and no secrets.

There is no Docker engine here, so the file is parsed and checked for what `docker compose up`
relies on; docs/production.md says how to run it. The retailer services, the .env variables and
the docker env's credentials are rendered from the registry (`make compose`): the committed
files must be that rendering.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from retail_pipeline.devstack import compose as compose_files
from retail_pipeline.registry import load_retailers

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
REGISTRY = load_retailers(ROOT / "conf", "base")  # the committed registry
SLUGS = [code.replace("_", "-") for code in REGISTRY]

ONE_SHOT = {"retailer-seed", "warehouse-migrate", "minio-init", "airflow-init"}
LONG_RUNNING = {
    **{f"{slug}-db": f"{5433 + n}:5432" for n, slug in enumerate(SLUGS)},
    **{f"{slug}-api": "{0}:{0}".format(entry["simulator"]["port"]) for slug, entry in zip(SLUGS, REGISTRY.values())},
    "warehouse": "5432:5432", "minio": "9000:9000", "airflow-apiserver": "8080:8080",
    "airflow-db": None, "airflow-scheduler": None, "airflow-dag-processor": None,
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


CELERY = {"airflow-broker", "airflow-worker"}  # the `celery` profile


def test_every_service_is_declared(services):
    assert set(services) == set(LONG_RUNNING) | ONE_SHOT | CELERY
    # the contract's four retailers, on their published ports
    for n in (1, 2, 3, 4):
        assert f"{5000 + n}:{5000 + n}" in services[f"retailer-{n}-api"]["ports"]
        assert f"{5432 + n}:5432" in services[f"retailer-{n}-db"]["ports"]


def test_committed_files_are_the_rendering_of_the_registry():
    """A registry entry added without `make compose` fails here."""
    stale = compose_files.stale(ROOT, compose_files.committed_registry(ROOT))
    assert not stale, f"run `make compose`: {[str(p.relative_to(ROOT)) for p in stale]} differ from the registry"


def test_a_fifth_retailer_gets_its_services_variables_and_credentials(tmp_path):
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    registry = yaml.safe_load((ROOT / "conf" / "base" / "retailers.yml").read_text())
    registry["retailers"]["acme_foods"] = {**registry["retailers"]["retailer_2"], "name": "Acme Foods",
                                           "retailer_id": 5, "simulator": {"style": "retailer_2", "port": 5005,
                                                                           "database": "acme_foods_db"}}
    (conf / "base" / "retailers.yml").write_text(yaml.safe_dump(registry, sort_keys=False))
    rendered = {path.relative_to(ROOT).as_posix(): text
                for path, text in compose_files.render(ROOT, load_retailers(conf, "local")).items()}
    services = yaml.safe_load(rendered["docker-compose.yml"])["services"]
    api = services["acme-foods-api"]
    assert api["ports"] == ["5005:5005"] and services["acme-foods-db"]["ports"] == ["5437:5432"]
    assert "--style retailer_2 --code acme_foods --port 5005" in api["command"][0]
    assert api["environment"]["ACMEFOODS_API_KEY"] == "${ACMEFOODS_API_KEY:?run python docker/generate_env.py}"
    assert api["environment"]["ACMEFOODS_DATABASE_URL"].endswith("@acme-foods-db:5432/acme_foods_db")
    assert services["airflow-scheduler"]["depends_on"]["acme-foods-api"] == {"condition": "service_healthy"}
    assert "--code acme_foods" in services["retailer-seed"]["command"][0]
    assert "ACMEFOODS_API_KEY=__generate__" in rendered[".env.example"].splitlines()
    creds = yaml.safe_load(rendered["docker/kedro/credentials.yml"])
    assert creds["acme_foods_api"] == {"base_url": "http://acme-foods-api:5005",
                                       "api_key": "${oc.env:ACMEFOODS_API_KEY}"}


def test_ports_follow_the_contract(services):
    for name, port in LONG_RUNNING.items():
        if port:
            assert port in services[name].get("ports", []), f"{name} should publish {port}"
    # Airflow's metadata database is private: nothing publishes it, and it is not the warehouse.
    assert "ports" not in services["airflow-db"]


def test_images_and_builds(services):
    for name in ("warehouse", "airflow-db", *(f"{slug}-db" for slug in SLUGS)):
        assert services[name]["image"] == "postgres:14", name
    for slug in SLUGS:
        build = services[f"{slug}-api"]["build"]
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

    for slug in SLUGS:
        assert conditions(f"{slug}-api") == {f"{slug}-db": "service_healthy"}
        assert conditions("retailer-seed")[f"{slug}-api"] == "service_healthy"  # its schema is applied
    assert conditions("warehouse-migrate") == {"warehouse": "service_healthy"}
    assert conditions("minio-init") == {"minio": "service_healthy"}
    scheduler = conditions("airflow-scheduler")
    assert scheduler["airflow-init"] == "service_completed_successfully"
    assert scheduler["warehouse-migrate"] == "service_completed_successfully"
    assert scheduler["minio-init"] == "service_completed_successfully"
    for slug in SLUGS:
        assert scheduler[f"{slug}-api"] == "service_healthy"
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
    for default_key in ("retailer1_api_key_123", "retailer2_api_key_123", "retailer3_api_key_123",
                        "retailer4_secret_123"):
        assert default_key not in text
    assert "minioadmin" not in text


def test_env_example_has_every_variable_and_no_secret():
    text = "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert used <= set(example), f"missing in .env.example: {sorted(used - set(example))}"
    for key, value in example.items():
        if re.search(r"PASSWORD|SECRET|FERNET|API_KEY|CLIENT_ID", key):
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
    for code in REGISTRY:
        secrets = {k: v for k, v in parsed[f"{code}_api"].items() if k != "base_url"}
        assert secrets and all(v.startswith("${oc.env:") for v in secrets.values()), code
    assert set(parsed["retailer_4_api"]) == {"base_url", "client_id", "client_secret"}
    assert all(parsed["raw_zone"][k].startswith("${oc.env:") for k in ("key", "secret"))


def test_the_celery_profile_adds_a_broker_and_workers_running_the_same_tasks(services):
    """`AIRFLOW_EXECUTOR=CeleryExecutor docker compose --profile celery up`: the DAG's per-retailer
    tasks spread over workers built like the scheduler (the project in /opt/retail)."""
    for name in CELERY:
        assert services[name]["profiles"] == ["celery"], name
        assert services[name]["healthcheck"]["test"], name
    worker, scheduler = services["airflow-worker"], services["airflow-scheduler"]
    assert worker["command"] == ["celery", "worker"]
    assert worker["build"] == scheduler["build"] and worker["volumes"] == scheduler["volumes"]
    assert worker["depends_on"]["airflow-broker"]["condition"] == "service_healthy"
    env = scheduler["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://airflow-broker:6379/0"
    assert "profiles" not in scheduler  # the default stack is unchanged
