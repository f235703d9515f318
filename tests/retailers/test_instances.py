"""Simulator instances: a style served under a code of its own (the registry's retailers), with
its env vars, port, database and secrets, through the CLI and `retailers.launch.start_api`."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from retailers.common.registry import env_prefix, instance
from retailers.launch import PROJECT_ROOT, start_api
from tests.retailers.client import free_port, request
from tests.retailers.conftest import r4_query


def test_env_prefix_and_development_secrets_follow_the_code(monkeypatch):
    assert [env_prefix(c) for c in ("retailer_1", "acme_foods", "acme-foods-2")] == \
        ["RETAILER1", "ACMEFOODS", "ACMEFOODS2"]
    assert instance("retailer_4").secrets() == {"client_id": "retailer4_client", "client_secret": "retailer4_secret_123"}
    assert instance("retailer_1").secrets() == {"api_key": "retailer1_api_key_123"}
    monkeypatch.setenv("ACMEFOODS_API_KEY", "from-env")
    monkeypatch.setenv("ACMEFOODS_PORT", "5099")
    acme = instance("acme_foods", "retailer_2")
    assert (acme.style, acme.secrets(), acme.port()) == ("retailer_2", {"api_key": "from-env"}, 5099)
    for bad in (("acme_foods", None), ("1abc", "retailer_1"), ('x"y', "retailer_1"), ("ok", "retailer_9")):
        with pytest.raises(ValueError):
            instance(*bad)


@pytest.fixture(scope="module")
def acme_database(pg_server):
    name = "acme_foods_simulator_tests"
    pg_server.drop_database(name)
    pg_server.ensure_database(name)
    yield pg_server.dsn(name)
    pg_server.drop_database(name)


def test_a_style_served_under_another_code_through_the_cli_and_start_api(acme_database, tmp_path):
    env = {"ACMEFOODS_DATABASE_URL": acme_database, "PATH": "/usr/bin:/bin"}
    for argv in (["init-db", "--style", "retailer_2", "--code", "acme_foods"],
                 ["seed", "--style", "retailer_2", "--code", "acme_foods", "--start", "2024-01-15", "--end",
                  "2024-01-15", "--rows-per-day", "30", "--bad-fraction", "0.2", "--seed", "5", "--as-of", "2030-01-01"]):
        done = subprocess.run([sys.executable, "-m", "retailers", *argv], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert "acme_foods: 30 rows over 1 day(s), 6 bad" in done.stdout
    api = start_api("retailer_2", "acme_foods", free_port(), acme_database, tmp_path / "acme.log",
                    secrets={"api_key": "acme-key"})
    try:
        info = {"base_url": api.base_url, "api_key": "acme-key"}
        body = request("retailer_2", info, "2024-01-15", "2024-01-15").json()
        assert body["retailer"] == "acme_foods" and body["count"] == 29  # + 1 future_date row, in 2030
        assert requests.get(api.base_url + "/health", timeout=5).json()["retailer"] == "acme_foods"
        assert request("retailer_2", info, "2024-01-15", "2024-01-15", key="retailer2_api_key_123").status_code == 401
        # Its own data (the generator's for this code), not retailer 2's for the same seed.
        from retailers.generator import generate

        ours, theirs = (generate(code, "2024-01-15", 30, 0.2, 0.0, 5, "2030-01-01", style="retailer_2")
                        for code in ("acme_foods", "retailer_2"))
        ours = ours[ours["bad_kind"] != "future_date"]
        served = sorted((t["transaction_number"], t["item_code"]) for t in body["transactions"])
        assert served == sorted(zip(ours["transaction_number"], ours["item_code"]))
        assert served != sorted(zip(theirs["transaction_number"], theirs["item_code"]))
    finally:
        api.stop()


def test_retailer_4_instance_takes_its_client_from_its_prefixed_env(acme_database, tmp_path):
    from retailers.common.db import init_db

    init_db("retailer_4", acme_database)
    env = {"PARISWEB_CLIENT_ID": "paris-client", "PARISWEB_CLIENT_SECRET": "paris-secret", "PARISWEB_TOKEN_TTL": "7"}
    api = start_api("retailer_4", "paris_web", free_port(), acme_database, tmp_path / "paris.log", env=env)
    try:
        assert requests.get(api.base_url + "/health", timeout=5).json() == {"status": "healthy", "retailer": "paris_web"}
        url = api.base_url + "/oauth/token"
        data = {"grant_type": "client_credentials"}
        assert requests.post(url, data=data, auth=("retailer4_client", "retailer4_secret_123"), timeout=5).status_code == 401
        granted = requests.post(url, data=data, auth=("paris-client", "paris-secret"), timeout=5).json()
        assert granted["expires_in"] == 7
        assert requests.get(api.base_url + "/v2/orders", params={"since": "2024-01-15", "until": "2024-01-15"},
                            headers={"Authorization": f"Bearer {granted['access_token']}"}, timeout=5).json() == {"orders": []}
    finally:
        api.stop()
    assert r4_query(acme_database, "SELECT count(*) FROM orders") == [(0,)]


def test_serve_refuses_options_of_another_style(acme_database):
    done = subprocess.run([sys.executable, "-m", "retailers", "serve", "--style", "retailer_1", "--token-ttl", "5",
                           "--database-url", acme_database], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--token-ttl does not apply to style retailer_1" in done.stderr
    done = subprocess.run([sys.executable, "-m", "retailers", "serve", "--code", "acme_foods"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "say which style serves it" in done.stderr
