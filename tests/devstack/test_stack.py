"""The dev stack end to end: up, status, up again, a dead API restarted, down with no orphans.

Runs the real command (`python -m retail_pipeline.devstack`) in subprocesses, with its state,
credentials and logs in a temp folder and every port a free one, so it never touches the
developer's own stack. The retailers are the registry's (conf/base/retailers.yml).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg2
import pytest
import sqlalchemy
import yaml

from retail_pipeline.devstack.config import StackConfig, env_prefix
from retail_pipeline.devstack.postgres import free_port
from retail_pipeline.devstack.processes import owned_processes
from retail_pipeline.registry import project_retailers

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGISTRY = project_retailers()
CODES = tuple(REGISTRY)


class Stack:
    def __init__(self, root: Path):
        self.root = root
        self.env = {
            **os.environ,
            "KEDRO_DISABLE_TELEMETRY": "true",
            "RETAIL_STACK_DIR": str(root / "stack"),
            "RETAIL_CONF_LOCAL": str(root / "conf_local"),
            "RETAIL_LOGS_DIR": str(root / "logs"),
            "RETAIL_DATA_DIR": str(root / "data"),
            "RETAIL_PG_PORT": str(free_port()),
        }
        for code in CODES:
            self.env[f"{env_prefix(code)}_PORT"] = str(free_port())
        self.up_args: list[str] = []

    def run(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "retail_pipeline.devstack", *args],
            cwd=PROJECT_ROOT, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=300,
        )

    def up(self, **env) -> subprocess.CompletedProcess:
        result = self.run("up", *self.up_args, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    @property
    def stack_dir(self) -> Path:
        return Path(self.env["RETAIL_STACK_DIR"])

    @property
    def credentials(self) -> dict:
        return yaml.safe_load((Path(self.env["RETAIL_CONF_LOCAL"]) / "credentials.yml").read_text())

    def state(self) -> dict:
        import json

        return json.loads((self.stack_dir / "state.json").read_text())

    def pids(self) -> dict[str, int]:
        state = self.state()
        pids = {code: record["pid"] for code, record in state.get("apis", {}).items()}
        if state.get("postgres", {}).get("pid"):
            pids["postgres"] = state["postgres"]["pid"]
        return pids


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def stack():
    # Not under tmp_path: pytest resets /tmp/pytest-of-<user> to 0700 when any session starts,
    # and PostgreSQL runs as another user when we are root.
    root = Path(tempfile.mkdtemp(prefix="retail-devstack-test-"))
    stack = Stack(root)
    try:
        stack.up()
        yield stack
    finally:
        stack.run("down")
        leftovers = owned_processes(stack.stack_dir)
        for proc in leftovers:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)
        assert not leftovers, f"processes left after down: {leftovers}"


def test_up_writes_private_secrets_and_credentials(stack):
    for path in (stack.stack_dir / "secrets.json", Path(stack.env["RETAIL_CONF_LOCAL"]) / "credentials.yml"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    creds = stack.credentials
    assert set(creds) == {"warehouse", "warehouse_reader", "raw_zone", *(f"{c}_api" for c in CODES),
                          *(f"{c}_db" for c in CODES)}
    assert creds["raw_zone"] == {}
    secrets = StackConfig.from_env(stack.env).simulators
    for code in CODES:
        assert creds[f"{code}_api"] == {"base_url": f"http://127.0.0.1:{stack.env[f'{env_prefix(code)}_PORT']}",
                                        **secrets[code].secrets}
    assert creds["retailer_1_api"]["api_key"] == "retailer1_api_key_123"
    assert set(creds["retailer_4_api"]) == {"base_url", "client_id", "client_secret"}


def test_credentials_connect_with_the_right_rights(stack):
    creds = stack.credentials
    loader = sqlalchemy.create_engine(creds["warehouse"]["con"])
    with loader.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT current_user, current_database()")).one() == (
            "retail_loader", "retail_analytics")
    loader.dispose()

    reader = psycopg2.connect(creds["warehouse_reader"]["con"].replace("+psycopg2", ""))
    with reader, reader.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone() == ("bi_reader",)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE TABLE public.should_not_exist (x int)")
    reader.close()

    for code in CODES:
        with psycopg2.connect(creds[f"{code}_db"]["con"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_database(), pg_get_userbyid(datdba) FROM pg_database "
                        "WHERE datname = current_database()")
            assert cur.fetchone() == (REGISTRY[code]["simulator"]["database"], "retail_loader")
        conn.close()


def test_status_reports_every_component_up(stack):
    result = stack.run("status")
    assert result.returncode == 0, result.stdout + result.stderr
    for code in CODES:
        assert f"http://127.0.0.1:{stack.env[f'{env_prefix(code)}_PORT']}" in result.stdout
    assert stack.env["RETAIL_PG_PORT"] in result.stdout
    for code in CODES:
        assert (Path(stack.env["RETAIL_LOGS_DIR"]) / f"{code}.log").exists()


def test_up_again_leaves_running_parts_alone(stack):
    before = stack.pids()
    result = stack.up()
    assert "already running" in result.stdout
    assert stack.pids() == before


def test_a_dead_api_is_restarted_and_the_others_left_alone(stack):
    before = stack.pids()
    os.kill(before["retailer_2"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not _gone(before["retailer_2"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.run("status").returncode != 0
    result = stack.up()
    assert "retailer_2" in result.stdout and "restarted" in result.stdout
    after = stack.pids()
    assert after["retailer_2"] != before["retailer_2"]
    assert {k: v for k, v in after.items() if k != "retailer_2"} == {
        k: v for k, v in before.items() if k != "retailer_2"}
    assert stack.run("status").returncode == 0


def test_an_api_that_state_json_does_not_recognise_is_replaced(stack):
    """Seen once in CI: a second `make run` refused the stack's own APIs' ports as someone
    else's. Whatever makes a record stop matching its process (here its start time), `up`
    stops the API it started, by its owner mark, and starts it again."""
    import json

    before = stack.pids()
    state = stack.state()
    state["apis"]["retailer_1"]["create_time"] -= 100
    (stack.stack_dir / "state.json").write_text(json.dumps(state))
    result = stack.up()
    replaced = f"retailer_1 API (pid {before['retailer_1']}, started by this stack but not in state.json)"
    assert replaced in result.stdout
    after = stack.pids()
    assert after["retailer_1"] != before["retailer_1"] and _gone(before["retailer_1"])
    assert {k: v for k, v in after.items() if k != "retailer_1"} == {
        k: v for k, v in before.items() if k != "retailer_1"}
    assert stack.run("status").returncode == 0


def test_a_taken_port_is_named_with_the_variable_to_change(stack):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        # A fresh state dir whose PostgreSQL port is taken: refused before anything starts.
        result = stack.run("up", "--no-apis", env={"RETAIL_STACK_DIR": str(stack.root / "other"),
                                                   "RETAIL_PG_PORT": str(port)})
        assert result.returncode != 0
        assert f"port {port}" in result.stderr and "RETAIL_PG_PORT=" in result.stderr
        assert "Traceback" not in result.stderr
        assert not (stack.root / "other" / "pgdata").exists()
        result = stack.run("up", env={"RETAILER3_PORT": str(port)})
        assert result.returncode != 0
        assert f"port {port}" in result.stderr and "RETAILER3_PORT=" in result.stderr


def test_summary_is_robust_on_an_empty_stack(stack):
    result = stack.run("summary")
    assert result.returncode == 0, result.stderr
    assert "Open next" in result.stdout and "make down" in result.stdout
    assert "bi_reader" in result.stdout
    for password in (stack.credentials["warehouse"]["con"].split(":")[2].split("@")[0],):
        assert password not in result.stdout


def test_summary_explains_why_source_rows_and_loaded_rows_differ(stack):
    """Source rows outside the days any run requested are named, not left as a silent gap."""
    import json

    from retailers.generator import seed

    dsn = stack.credentials["retailer_1_db"]["con"]
    seed({"retailer_1": dsn}, "2024-03-01", "2024-03-03", 20, 0.0, 0.0, 1, "2030-01-01", ["retailer_1"])
    manifest = Path(stack.env["RETAIL_DATA_DIR"]) / "01_raw/manifests/retailer_1/run_date=2024-03-02/manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"window_start": "2024-03-01", "window_end": "2024-03-02"}))
    try:
        result = stack.run("summary")
    finally:
        shutil.rmtree(Path(stack.env["RETAIL_DATA_DIR"]) / "01_raw", ignore_errors=True)
    assert result.returncode == 0, result.stderr
    line = next(text for text in result.stdout.splitlines() if text.strip().startswith("retailer_1: 60 source rows"))
    assert "the 40 dated 2024-03-01 .. 2024-03-02" in line and "0 facts" in line
    assert "[gap +40" in line and "20 dated outside those days (20 after 2024-03-02" in line


def test_summary_counts_order_lines_by_local_day(stack):
    """retailer_4 sends orders with lines in Europe/Paris time: its source rows are the lines
    (what the extraction yields), dated by their local day as the ingestion windows are. Counted
    by UTC date, the orders placed between midnight and 01:00/02:00 local would fall a day early."""
    import json
    from contextlib import closing

    from retailers.generator import seed

    dsn = stack.credentials["retailer_4_db"]["con"]
    seed({"retailer_4": dsn}, "2024-03-30", "2024-03-31", 400, 0.0, 0.0, 3, "2030-01-01", ["retailer_4"])
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT (placed_at AT TIME ZONE 'Europe/Paris')::date, count(*) FROM orders "
                    "JOIN order_lines USING (order_ref) GROUP BY 1 ORDER BY 1")
        per_day = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM orders WHERE (placed_at AT TIME ZONE 'UTC')::date "
                    "<> (placed_at AT TIME ZONE 'Europe/Paris')::date")
        early = cur.fetchone()[0]
    first_day = min(per_day)
    assert early > 0, "the seed has no order in the local hours before UTC midnight: the test would not bite"
    manifest = Path(stack.env["RETAIL_DATA_DIR"]) / f"01_raw/manifests/retailer_4/run_date={first_day}/manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"window_start": str(first_day), "window_end": str(first_day)}))
    try:
        result = stack.run("summary")
    finally:
        shutil.rmtree(Path(stack.env["RETAIL_DATA_DIR"]) / "01_raw", ignore_errors=True)
    assert result.returncode == 0, result.stderr
    total = sum(per_day.values())
    line = next(text for text in result.stdout.splitlines() if text.strip().startswith("retailer_4: "))
    assert line.strip().startswith(f"retailer_4: {total:,} source rows"), line
    assert f"the {per_day[first_day]:,} dated {first_day} .. {first_day}" in line, (line, per_day)
    assert f"[gap +{per_day[first_day]:,}" in line


def test_seed_fills_every_registry_retailer(stack):
    """`make seed` runs `devstack seed`: each registry retailer's simulator seeds its own database
    (its style's tables), the summary then counts them (after the summary tests: it adds rows)."""
    from contextlib import closing

    from retailers.common.registry import spec

    result = stack.run("seed", "--start", "2024-02-01", "--end", "2024-02-02", "--rows-per-day", "7", "--seed", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    for code in CODES:
        assert f"{code}: 14 rows over 2 day(s)" in result.stdout, result.stdout
        table = spec(REGISTRY[code]["simulator"]["style"]).table
        with closing(psycopg2.connect(stack.credentials[f"{code}_db"]["con"])) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] > 0, code
    for secret in (stack.credentials["warehouse"]["con"].split(":")[2].split("@")[0],):
        assert secret not in result.stdout + result.stderr
    refused = stack.run("status", "--rows-per-day", "7")
    assert refused.returncode == 2 and "unrecognized arguments" in refused.stderr


def test_down_stops_everything_and_is_idempotent(stack):
    pids = stack.pids()
    assert "postgres" in pids
    children = []
    for pid in pids.values():
        try:
            children += [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    result = stack.run("down")
    assert result.returncode == 0, result.stderr
    assert all(_gone(pid) for pid in [*pids.values(), *children]), result.stdout
    assert owned_processes(stack.stack_dir) == []
    assert stack.run("status").returncode != 0
    again = stack.run("down")
    assert again.returncode == 0 and "Nothing was running" in again.stdout
    # and the stack comes back with the same credentials
    creds = stack.credentials
    result = stack.run("up", "--no-apis")
    assert result.returncode == 0, result.stderr
    assert stack.credentials == creds
    assert stack.run("down").returncode == 0
