"""Start a retailer API as a background process and stop it again, with no orphans.

Used by the local stack (`make up`, detach=True, stopped later by pid via `stop_pid`) and by the
test fixtures (stopped through `ApiProcess.stop()`). The database URL and API key travel in the
child's environment, not on its command line, so `ps` does not show them.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from retailers.common.registry import spec

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _health(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


@dataclass
class ApiProcess:
    code: str
    port: int
    base_url: str
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM its process group (it leads its own), then SIGKILL if it lingers."""
        _stop_group(self.process.pid, timeout, _waiter(self.process.wait, subprocess.TimeoutExpired))
        _RUNNING.discard(self)

    __hash__ = object.__hash__


_RUNNING: set[ApiProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Non-detached APIs end with their caller even if it forgot to stop them."""
    for api in list(_RUNNING):
        api.stop(timeout=5)


def _stop_group(pid: int, timeout: float, wait: Callable[[float], bool]) -> None:
    """SIGTERM the process group led by `pid`; SIGKILL it if `wait` reports it still alive."""
    for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if wait(grace):
            break
    try:  # anything else left in the group (there are no children today; cheap insurance)
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _waiter(wait: Callable, expired: type[Exception]) -> Callable[[float], bool]:
    def waited(timeout: float) -> bool:
        try:
            wait(timeout=timeout)
            return True
        except expired:
            return False
    return waited


def start_api(code: str, port: int, database_url: str, log_path: str | Path, api_key: str | None = None,
              env: dict[str, str] | None = None, detach: bool = False, timeout: float = 30) -> ApiProcess:
    """Run `python -m retailers serve` for `code` on `port`; return once /health answers 200.

    Raises RuntimeError with the log tail if the process dies or is not healthy in `timeout`
    seconds, and at once if the port is already taken. detach=True: the API survives the caller
    (own session, no atexit stop); stop it later with `stop_pid(pid)`.
    """
    s = spec(code)
    if not _port_is_free(port):
        raise RuntimeError(
            f"Port {port} is already taken, so the {code} API cannot listen there. Stop whatever uses it "
            f"(make down) or choose another port ({s.env_prefix}_PORT=...)."
        )
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, **(env or {}),
                 f"{s.env_prefix}_DATABASE_URL": database_url,
                 f"{s.env_prefix}_API_KEY": api_key or s.env_api_key(),
                 "PYTHONUNBUFFERED": "1"}
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), child_env.get("PYTHONPATH")) if p)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "retailers", "serve", "--retailer", code, "--port", str(port)],
            cwd=PROJECT_ROOT, env=child_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals the group, no orphans
        )
    api = ApiProcess(code, port, f"http://127.0.0.1:{port}", log_path, process)
    if not detach:
        _RUNNING.add(api)

    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _RUNNING.discard(api)
            raise RuntimeError(
                f"The {code} API exited with code {process.returncode} before it was healthy. "
                f"Log {log_path}:\n{_tail(log_path)}"
            )
        status = _health(api.base_url + "/health")
        if status == 200:
            return api
        time.sleep(0.1)
    api.stop()
    hint = " (503: it cannot reach its database)" if status == 503 else ""
    raise RuntimeError(
        f"The {code} API on port {port} was not healthy within {timeout:.0f}s{hint}. "
        f"Log {log_path}:\n{_tail(log_path)}"
    )


def stop_pid(pid: int, timeout: float = 10) -> bool:
    """Stop a detached API by pid (as recorded by the local stack). False if it was not running.

    Checks the command line first so that a recycled pid of some other program is left alone.
    """
    import psutil

    try:
        proc = psutil.Process(pid)
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    if not ("retailers" in cmdline and "serve" in cmdline):
        return False
    children = proc.children(recursive=True)
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    if pgid == pid:
        _stop_group(pid, timeout, _waiter(proc.wait, psutil.TimeoutExpired))
    else:
        proc.terminate()
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    return True
