"""Starting and stopping APIs as processes: port taken, detach + stop by pid, env faults, 503."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import psutil
import pytest

from retailers.launch import PROJECT_ROOT, start_api, stop_pid
from tests.retailers.client import free_port, request


def test_port_taken_is_a_clear_error(retailer_databases, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"Port {port} is already taken"):
            start_api("retailer_1", port, retailer_databases["retailer_1"], tmp_path / "r1.log")
        # The server itself says so too, without a traceback, when started by hand.
        result = subprocess.run(
            [sys.executable, "-m", "retailers", "serve", "--retailer", "retailer_1", "--port", str(port),
             "--database-url", retailer_databases["retailer_1"]],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode != 0
    assert "port is probably taken" in result.stderr and "Traceback" not in result.stderr


def test_detached_api_with_env_faults_is_stopped_by_pid(retailer_databases, tmp_path):
    api = start_api("retailer_2", free_port(), retailer_databases["retailer_2"], tmp_path / "r2.log",
                    api_key="k2", env={"RETAILER_FAULTS": '{"fail_500": 1}'}, detach=True)
    try:
        info = {"base_url": api.base_url, "api_key": "k2"}
        assert request("retailer_2", info, "2024-01-15", "2024-01-15").status_code == 500
        assert request("retailer_2", info, "2024-01-15", "2024-01-15").status_code == 200
        # Secrets are not on the command line.
        cmdline = " ".join(psutil.Process(api.pid).cmdline())
        assert "k2" not in cmdline and retailer_databases["retailer_2"] not in cmdline
        assert stop_pid(os.getpid()) is False  # not an API: left alone
        assert stop_pid(api.pid) is True
        api.process.wait(timeout=10)
        assert not psutil.pid_exists(api.pid) or psutil.Process(api.pid).status() == psutil.STATUS_ZOMBIE
        assert stop_pid(api.pid) is False
    finally:
        api.stop()


@pytest.mark.stack  # starts a simulator process of its own
def test_unreachable_database_fails_start_with_a_hint_and_health_is_503(tmp_path):
    dead = f"postgresql://nobody:pw@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(RuntimeError, match="503"):
        start_api("retailer_3", free_port(), dead, tmp_path / "r3.log", timeout=4)
    from retailers.retailer_3.app import create_app

    client = create_app(dead, "key").test_client()
    response = client.get("/health")
    assert response.status_code == 503 and response.get_json()["status"] == "unhealthy"
    data = client.post("/sales/query", json={"dateFrom": "2024-01-15", "dateTo": "2024-01-15"},
                       headers={"apikey": "key"})
    assert data.status_code == 503 and "pw" not in data.get_data(as_text=True)


def test_admin_refuses_non_loopback_clients(retailer_databases):
    from retailers.retailer_1.app import create_app

    client = create_app(retailer_databases["retailer_1"], "key").test_client()
    assert client.get("/_admin/faults", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/_admin/faults", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
