"""Background processes of the stack: start detached, recognise our own, stop with no orphans.

Every process the stack starts carries `RETAIL_STACK_OWNER=<state dir>` in its environment and is
recorded in state.json with its pid and start time, so `down` stops exactly what `up` started
(a recycled pid is never mistaken for ours) and finds strays even if state.json was lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from retail_pipeline.devstack.config import Simulator, StackError

OWNER_ENV = "RETAIL_STACK_OWNER"


# -- identity ------------------------------------------------------------------------------
def process_record(pid: int) -> dict:
    """What state.json keeps about a process: pid and start time (to tell it from a recycled pid)."""
    return {"pid": pid, "create_time": psutil.Process(pid).create_time()}


def alive(record: dict | None) -> psutil.Process | None:
    """The process of `record` if it still runs and is the same process (not a recycled pid)."""
    if not record or not record.get("pid"):
        return None
    try:
        proc = psutil.Process(int(record["pid"]))
        if record.get("create_time") and abs(proc.create_time() - float(record["create_time"])) > 1.0:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def owned_processes(owner: Path) -> list[psutil.Process]:
    """Live processes started by the stack whose state lives in `owner`."""
    return [proc for proc in psutil.process_iter(["pid"]) if proc.pid != os.getpid() and is_owned(proc, owner)]


def is_owned(proc: psutil.Process, owner: Path) -> bool:
    """`proc` runs and was started by the stack whose state lives in `owner` (its mark)."""
    try:
        return proc.environ().get(OWNER_ENV) == str(owner) and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return False


def stop_process(proc: psutil.Process, timeout: float = 10.0) -> None:
    """SIGTERM the process and all its descendants, SIGKILL what is left after `timeout`."""
    stop_processes([proc], timeout)


def stop_processes(procs: list[psutil.Process], timeout: float = 10.0) -> None:
    """stop_process for several at once: all are signalled first, then waited for together."""
    family: list[psutil.Process] = []
    for proc in procs:
        try:
            family += [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    for member in family:
        try:
            member.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, left = psutil.wait_procs(family, timeout=timeout)
    for member in left:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(left, timeout=5)


def port_holder(port: int) -> psutil.Process | None:
    """The process listening on `port`, if it can be seen."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                return psutil.Process(conn.pid)
    except (psutil.Error, OSError):
        pass
    return None


def port_owner(port: int) -> str:
    """A short description of who listens on `port` ('pid 123 (nginx)'), or '' if unknown."""
    proc = port_holder(port)
    if proc is None:
        return ""
    try:
        return f"pid {proc.pid} ({proc.name()})"
    except psutil.Error:
        return f"pid {proc.pid}"


# -- HTTP health -----------------------------------------------------------------------------
def health(url: str, timeout: float = 2.0) -> dict | None:
    """The JSON body of GET {url}/health when it answers 200, else None."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            if response.status != 200:
                return None
            return json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def wait_healthy(url: str, code: str, proc: subprocess.Popen | None, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = health(url, timeout=1.0)
        if body is not None and body.get("retailer", code) == code:
            return
        if proc is not None and proc.poll() is not None:
            raise StackError(
                f"The {code} API exited with code {proc.returncode} before it became healthy at {url}/health.\n"
                f"Last lines of {log_path}:\n{tail(log_path)}"
            )
        time.sleep(0.25)
    raise StackError(
        f"The {code} API did not answer {url}/health within {timeout:.0f}s.\nLast lines of {log_path}:\n{tail(log_path)}"
    )


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- starting a retailer API -----------------------------------------------------------------
def child_env(owner: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a stack process: the owner mark set (retailers/ is an installed package)."""
    env = {**os.environ, **(extra or {})}
    env[OWNER_ENV] = str(owner)
    env.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    return env


def start_retailer_api(sim: Simulator, database_url: str, log_path: Path, owner: Path) -> int:
    """Start one simulator's API detached from this process, wait for /health, return its pid."""
    from retailers.launch import start_api

    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = start_api(sim.style, sim.code, sim.port, database_url, log_path, secrets=sim.secrets,
                           env={OWNER_ENV: str(owner)}, detach=True)
    except Exception as exc:  # its own message says what failed; add where to look
        raise StackError(f"The {sim.code} API did not start on port {sim.port}: {exc}\nLog: {log_path}\n"
                         f"{tail(log_path)}") from exc
    return handle.pid
