"""The stack's PostgreSQL after `kill -9` (issue 9, item 9) and its durable settings (item 1).

The stack here is started from a "keeper" process that is a child subreaper and never reaps, as
PID 1 of many containers does: the postmaster is adopted by it, so after `kill -9` the dead
postmaster stays a zombie whose pid `pg_ctl status` takes for a running server. `up` must
restart the server anyway (crash recovery), with clean output, and lose nothing committed.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psutil
import psycopg2
import pytest

from retail_pipeline.devstack.postmaster import cluster_processes
from retail_pipeline.devstack.processes import owned_processes
from tests.devstack.test_stack import PROJECT_ROOT, Stack

# A child subreaper (prctl PR_SET_CHILD_SUBREAPER = 36) that runs `up` and then only waits for
# its stdin to close: orphans (the postmaster, once pg_ctl exits) become its children, unreaped.
KEEPER = """
import ctypes, subprocess, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
result = subprocess.run([sys.executable, "-m", "retail_pipeline.devstack", "up", "--no-apis"])
print("up exit", result.returncode, flush=True)
sys.stdin.read()
"""
DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.1)


def _status(pid: int) -> str:
    try:
        return psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return "gone"


@pytest.fixture(scope="module")
def kept_stack():
    root = Path(tempfile.mkdtemp(prefix="retail-devstack-crash-"))
    stack = Stack(root)
    stack.up_args = ["--no-apis"]
    keeper = subprocess.Popen([sys.executable, "-c", KEEPER], cwd=PROJECT_ROOT, env=stack.env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, deadline = "", time.monotonic() + 240
        while "up exit" not in output and keeper.poll() is None and time.monotonic() < deadline:
            if select.select([keeper.stdout], [], [], 1.0)[0]:
                output += keeper.stdout.readline()
        assert "up exit 0" in output, output
        yield stack, keeper
    finally:
        stack.run("down")
        keeper.stdin.close()
        try:
            keeper.wait(timeout=30)
        except subprocess.TimeoutExpired:
            keeper.kill()
            keeper.wait(timeout=10)
        leftovers = cluster_processes(stack.stack_dir / "pgdata") + owned_processes(stack.stack_dir)
        for proc in leftovers:
            proc.kill()
        psutil.wait_procs(leftovers, timeout=10)
        shutil.rmtree(root, ignore_errors=True)
        assert not leftovers, f"processes left after down: {leftovers}"


def _loader_dsn(stack: Stack) -> str:
    return stack.credentials["warehouse"]["con"].replace("+psycopg2", "")


def _show(stack: Stack) -> dict[str, str]:
    with closing(psycopg2.connect(_loader_dsn(stack))) as conn, conn.cursor() as cur:
        values = {}
        for name in DURABILITY:
            cur.execute(f"SHOW {name}")
            values[name] = cur.fetchone()[0]
        return values


def test_the_stack_server_commits_durably(kept_stack):
    stack, _ = kept_stack
    assert _show(stack) == {name: "on" for name in DURABILITY}


def test_a_cluster_made_with_async_commit_is_made_durable_by_up(kept_stack):
    """Clusters made before issue 9 have `synchronous_commit = off` in postgresql.auto.conf."""
    stack, _ = kept_stack
    with open(stack.stack_dir / "pgdata" / "postgresql.auto.conf", "a") as conf:
        conf.write("synchronous_commit = off\n")
    pid = stack.pids()["postgres"]
    result = stack.up()
    assert (f"already running (pid {pid}); reloaded without its synchronous_commit override (durable commits)"
            in result.stdout), result.stdout
    assert _show(stack)["synchronous_commit"] == "on"
    assert "synchronous_commit" not in (stack.stack_dir / "pgdata" / "postgresql.auto.conf").read_text()


def test_up_after_kill_9_of_the_postmaster_restarts_it(kept_stack):
    stack, keeper = kept_stack
    with closing(psycopg2.connect(_loader_dsn(stack))) as conn:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE crash_probe (n int)")
            cur.execute("INSERT INTO crash_probe VALUES (9)")  # committed: must survive the crash
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            stuck = cur.fetchone()[0]
        pid = stack.pids()["postgres"]
        assert psutil.Process(pid).ppid() == keeper.pid  # adopted by the keeper: it will stay a zombie
        os.kill(stuck, signal.SIGSTOP)  # a backend that will not notice its postmaster died
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: _status(pid) == psutil.STATUS_ZOMBIE, 10, f"postmaster {pid} to be a zombie")

        started = time.monotonic()
        result = stack.run("up", "--no-apis")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    assert f"restarted after a crash (the server, pid {pid}, had died; crash recovery done)" in result.stdout
    assert time.monotonic() - started < 120
    assert _status(stuck) in ("gone", psutil.STATUS_ZOMBIE)  # the stuck backend was stopped first
    assert stack.pids()["postgres"] != pid
    with closing(psycopg2.connect(_loader_dsn(stack))) as conn, conn, conn.cursor() as cur:
        cur.execute("SELECT n FROM crash_probe")
        assert cur.fetchall() == [(9,)]
        cur.execute("DROP TABLE crash_probe")
    status = stack.run("status")
    row = next(line for line in status.stdout.splitlines() if line.startswith("postgresql"))
    assert row.split()[1] == "up", status.stdout
