"""Start a retailer API as a background process and stop it again, with no orphans.

Used by the local stack (`make up`, detach=True, stopped later by pid via `stop_pid`) and by the
test fixtures (stopped through `ApiProcess.stop()`). The database URL and secrets travel in the
child's environment (<PREFIX>_DATABASE_URL, <PREFIX>_API_KEY, <PREFIX>_CLIENT_ID ...), not on its
command line, so `ps` does not show them.
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

from retailers.common.registry import AUTH_SECRETS, instance

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
    style: str = ""

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


def start_api(style: str, code: str | int | None = None, port: int | str | None = None,
              database_url: str | Path | None = None, log_path: str | Path | None = None,
              api_key: str | None = None, env: dict[str, str] | None = None, detach: bool = False,
              timeout: float = 30, *, secrets: dict[str, str] | None = None,
              settings: dict[str, int] | None = None) -> ApiProcess:
    """Run `python -m retailers serve --style S --code C` on `port`; return once /health answers 200.

    `start_api(style, code, port, database_url, log_path, secrets={...})`; the older
    `start_api(code, port, database_url, log_path, api_key=...)` still works for a code that is
    a style's name. `secrets`: the auth style's (api_key; or client_id and client_secret),
    missing ones from the env or the development defaults; `api_key=` is the api_key secret
    (ignored by an OAuth2 style). `settings`: the style's integer settings (retailer_4:
    token_ttl, page_size), passed as <PREFIX>_TOKEN_TTL ... like the secrets.

    Raises RuntimeError with the log tail if the process dies or is not healthy in `timeout`
    seconds, and at once if the port is already taken. detach=True: the API survives the caller
    (own session, no atexit stop); stop it later with `stop_pid(pid)`.
    """
    if isinstance(code, int):  # the older form: (code, port, database_url, log_path)
        code, port, database_url, log_path = style, code, port, database_url
    inst = instance(code or style, style)
    if port is None or database_url is None or log_path is None:
        raise TypeError("start_api needs a port, a database URL and a log path")
    port = int(port)
    if not _port_is_free(port):
        raise RuntimeError(
            f"Port {port} is already taken, so the {inst.code} API cannot listen there. Stop whatever uses it "
            f"(make down) or choose another port ({inst.env_prefix}_PORT=...)."
        )
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    prefix, extra = inst.env_prefix, env or {}
    given = {name: (secrets or {}).get(name) or (api_key if name == "api_key" else None)
             or extra.get(f"{prefix}_{name.upper()}") for name in AUTH_SECRETS[inst.spec.auth]}
    child_env = {**os.environ, **extra}
    child_env.update({f"{prefix}_{name.upper()}": value for name, value in inst.secrets(given).items()})
    for name, value in (settings or {}).items():
        if name not in inst.spec.settings:
            raise ValueError(f"style {inst.style} has no setting {name!r} (it has {', '.join(inst.spec.settings) or 'none'})")
        child_env[f"{prefix}_{name.upper()}"] = str(int(value))
    child_env[f"{prefix}_DATABASE_URL"] = str(database_url)
    child_env["PYTHONUNBUFFERED"] = "1"
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), child_env.get("PYTHONPATH")) if p)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "retailers", "serve", "--style", inst.style, "--code", inst.code,
             "--port", str(port)],
            cwd=PROJECT_ROOT, env=child_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals the group, no orphans
        )
    api = ApiProcess(inst.code, port, f"http://127.0.0.1:{port}", log_path, process, inst.style)
    if not detach:
        _RUNNING.add(api)

    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _RUNNING.discard(api)
            raise RuntimeError(
                f"The {inst.code} API exited with code {process.returncode} before it was healthy. "
                f"Log {log_path}:\n{_tail(log_path)}"
            )
        status = _health(api.base_url + "/health")
        if status == 200:
            return api
        time.sleep(0.1)
    api.stop()
    hint = " (503: it cannot reach its database)" if status == 503 else ""
    raise RuntimeError(
        f"The {inst.code} API on port {port} was not healthy within {timeout:.0f}s{hint}. "
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
