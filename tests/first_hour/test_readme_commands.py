"""The first hour of a new user, for real: in a copy of the checkout, with non-default ports,
`make run`, then every fenced shell command of the README in order, as written.

- `make run` (7 days) prints under 150 lines, one line per day, and no warning;
- every README command succeeds after it, prints no warning, and shows data (the API examples
  return records, the SQL examples rows);
- `make viz` serves on RETAIL_VIZ_PORT; the README ends with `make down` and `make clean`,
  after which the copy holds what a clone holds.

Not run: `make test` (this suite). The stack is stopped by pid (`devstack down`) even when
a step fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from retail_pipeline.devstack.config import env_prefix
from retail_pipeline.devstack.postgres import free_port
from retail_pipeline.registry import project_retailers
from tests.first_hour.project_copy import ROOT, checkout_files, new_user_checkout
from tests.first_hour.readme import command_name, shell_blocks

pytestmark = pytest.mark.slow

WARNING = re.compile(r"^WARNING\b|\w+Warning: ", re.MULTILINE)  # log records, Python warnings
NOT_RUN = {"make test"}                      # the suite this test belongs to
SERVERS = {"make viz": ("RETAIL_VIZ_PORT", "/api/main")}


def _ports() -> dict[str, str]:
    names = ["RETAIL_PG_PORT", *(f"{env_prefix(code)}_PORT" for code in project_retailers()), "RETAIL_VIZ_PORT"]
    ports: set[int] = set()
    while len(ports) < len(names):
        ports.add(free_port())
    return dict(zip(names, map(str, sorted(ports))))


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """A new user's checkout and shell environment (ports only differ); the stack is stopped after."""
    project = new_user_checkout(tmp_path_factory.mktemp("first-hour") / "retail-pipeline")
    (project / ".cloned-files").write_text("\n".join(checkout_files(ROOT)))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "KEDRO_", "RETAIL", "VIRTUAL_ENV", "MAKE", "MFLAGS"))}
    env.update(_ports(), COLUMNS="120")
    try:
        yield project, env
    finally:  # by the checkout's own state (pids in .stack), whatever the venv's state
        subprocess.run([sys.executable, "-m", "retail_pipeline.devstack", "down"], cwd=project,
                       env={**env, "RETAIL_PROJECT_ROOT": str(project)}, capture_output=True, timeout=120)


def sh(project: Path, env: dict, script: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=project, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def serve(project: Path, env: dict, command: str) -> None:
    """Start a server command, wait until it answers on its port, stop it (its process group)."""
    variable, path = SERVERS[command]
    url = f"http://127.0.0.1:{env[variable]}{path}"
    proc = subprocess.Popen(["bash", "-c", command], cwd=project, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(2)
        pytest.fail(f"`{command}` did not answer on {url} (exit {proc.poll()})")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def test_make_run_then_every_readme_command(user):
    project, env = user
    blocks = shell_blocks(project / "README.md")
    assert command_name(blocks[0].commands[0]) == "make run", "the README starts with make run"

    first = sh(project, env, "make run")
    console = output(first)
    assert first.returncode == 0, console[-6000:]
    lines = console.splitlines()
    assert len(lines) < 150, f"make run printed {len(lines)} lines:\n" + console[-4000:]
    assert not [line for line in lines if WARNING.search(line)], console
    assert len([line for line in lines if line.startswith("run_date ")]) == 7, console

    for block in blocks:
        names = [command_name(c) for c in block.commands]
        server = [n for n in names if n in SERVERS]
        if server:
            assert names == server, f"README line {block.line}: a server command needs a block of its own"
            serve(project, env, server[0])
            continue
        skip = NOT_RUN | ({"make run"} if block is blocks[0] else set())
        result = sh(project, env, block.script(skip))
        text = output(result)
        assert result.returncode == 0, f"README line {block.line} failed:\n{text[-6000:]}"
        assert not WARNING.search(text), f"README line {block.line} warned:\n{text[-6000:]}"
        _shows_data(names, text, block.line)

    cloned = set((project / ".cloned-files").read_text().splitlines()) | {".cloned-files"}
    left = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()} - cloned
    assert not left, f"make clean left {sorted(left)[:20]}"


def _shows_data(names: list[str], text: str, line: int) -> None:
    """The examples return what they promise, not an empty answer."""
    joined = " ".join(names)
    if "curl" in joined:
        for prefix in ("ORD-", "TXN-", "SAL-", "WEB-"):  # each API's transaction (order) ids
            assert prefix in text, f"README line {line}: no {prefix} record in\n{text[-3000:]}"
    if "SQL=" in joined or "duckdb" in joined:
        assert "retailer_3" in text, f"README line {line}: no rows in\n{text[-3000:]}"
    if "retail_pipeline.backfill" in joined:
        assert "done: 3 day(s)" in text, text[-3000:]
    if "kedro run" in joined:
        summaries = [n for n in names if "kedro run" in n]
        assert text.count("run_date ") >= len(summaries), text[-3000:]
