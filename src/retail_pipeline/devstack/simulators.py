"""The simulated retailer systems of the stack: one per registry entry (`simulator:`).

Each runs the app of its `style` (a package under retailers/) as the retailer `code`, on its
port, from its own database in the stack's cluster, with the secrets of its auth style. Their
schemas are applied and their data seeded by `python -m retailers` in child processes; the
database URL and secrets travel in the environment, never on a command line `ps` shows.
"""

from __future__ import annotations

import subprocess
import sys
import threading

from retail_pipeline.devstack import processes
from retail_pipeline.devstack.config import Simulator, StackConfig, StackError
from retail_pipeline.devstack.credentials import retailer_db_url
from retail_pipeline.devstack.ports import port_is_free
from retail_pipeline.devstack.state import redact, save_state

_STATE_LOCK = threading.Lock()  # the API starters run in threads and share state.json


def simulator_env(sim: Simulator, database_url: str) -> dict[str, str]:
    """What `python -m retailers` reads for one instance: <PREFIX>_DATABASE_URL and its secrets."""
    env = {f"{sim.env_prefix}_DATABASE_URL": database_url}
    env.update({f"{sim.env_prefix}_{name.upper()}": value for name, value in sim.secrets.items()})
    return env


def _retailers_cli(config: StackConfig, passwords: dict[str, str], command: str, args: list[str],
                   timeout: float) -> list[str]:
    """`python -m retailers <command> --style S --code C <args>` for every simulator, side by
    side; the failures (with their output, passwords masked)."""
    env = processes.child_env(config.stack_dir)
    env.pop(processes.OWNER_ENV)  # short-lived: not a stack process
    running = []
    for code, sim in config.simulators.items():
        argv = [sys.executable, "-m", "retailers", command, "--style", sim.style, "--code", code, *args]
        child_env = {**env, **simulator_env(sim, retailer_db_url(config, code, passwords))}
        running.append((code, subprocess.Popen(argv, cwd=config.root, env=child_env, stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, text=True)))
    failures = []
    for code, proc in running:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"{code} (exit {proc.returncode}):\n{redact(output, passwords)[-2000:]}")
        elif command == "seed":
            print(output.rstrip(), flush=True)
    return failures


def apply_schemas(config: StackConfig, passwords: dict[str, str]) -> str:
    """`python -m retailers init-db` for each simulator, in parallel."""
    failures = _retailers_cli(config, passwords, "init-db", [], timeout=300)
    if failures:
        raise StackError("Applying the retailer schemas (python -m retailers init-db) failed for " + "\n".join(failures))
    return "applied to " + ", ".join(sim.database for sim in config.simulators.values())


def seed(config: StackConfig, passwords: dict[str, str], args: list[str]) -> None:
    """`python -m retailers seed <args>` for each simulator, in parallel (what `make seed` runs)."""
    failures = _retailers_cli(config, passwords, "seed", args, timeout=6 * 3600)
    if failures:
        raise StackError("Seeding (python -m retailers seed) failed for " + "\n".join(failures))


# -- the APIs ---------------------------------------------------------------------------------
def _api_ok(config: StackConfig, code: str, record: dict | None) -> bool:
    return bool(
        record
        and processes.alive(record)
        and record.get("port") == config.api_ports[code]
        and record.get("database_port") == config.pg_port
        and record.get("style", config.simulators[code].style) == config.simulators[code].style
    )


def ensure_api(config: StackConfig, code: str, state: dict, passwords: dict[str, str]) -> str:
    """Leave a healthy API of `code` alone; otherwise (re)start it. Says what it did."""
    apis = state.setdefault("apis", {})
    record = apis.get(code)
    note = "started"
    if _api_ok(config, code, record):
        try:
            processes.wait_healthy(config.api_url(code), code, None, config.log_path(code), timeout=15)
            return f"already running (pid {record['pid']})"
        except StackError:
            note = "restarted (it did not answer /health)"
    old = processes.alive(record)
    if old is not None:
        processes.stop_process(old)
        if note == "started":
            note = "restarted (port, database or style changed)"
    elif record:
        note = "restarted (it had stopped)"
    sim = config.simulators[code]
    pid = processes.start_retailer_api(sim, retailer_db_url(config, code, passwords), config.log_path(code),
                                       config.stack_dir)
    with _STATE_LOCK:
        apis[code] = {**processes.process_record(pid), "port": sim.port, "url": sim.base_url, "style": sim.style,
                      "database_port": config.pg_port, "log": str(config.log_path(code))}
        save_state(config, state)
    return f"{note} (pid {pid})"


def api_status(config: StackConfig, state: dict) -> list[dict]:
    """One status row per simulator: up (answers /health), unhealthy, or down."""
    rows = []
    for code, sim in config.simulators.items():
        record = state.get("apis", {}).get(code)
        proc = processes.alive(record)
        port = record.get("port") if proc else sim.port
        url = f"http://127.0.0.1:{port}"
        if proc is None:
            status = "down"
        else:
            status = "up" if processes.health(url) is not None else "unhealthy"
        rows.append({"component": f"{code} api", "state": status, "port": port,
                     "pid": proc.pid if proc else "-", "url": url})
    return rows


def stop_unrecorded_apis(config: StackConfig, state: dict) -> list[str]:
    """Stop the APIs this stack started that state.json does not recognise (its record lost, or
    not matching the process any more), so `up` starts them afresh instead of refusing their
    ports as someone else's. Says what it stopped."""
    stopped = []
    for code, sim in config.simulators.items():
        record = state.get("apis", {}).get(code)
        if processes.alive(record) and record.get("port") == sim.port:
            continue
        holder = processes.port_holder(sim.port)
        if holder is not None and processes.is_owned(holder, config.stack_dir):
            processes.stop_process(holder)
            stopped.append(f"{code} API (pid {holder.pid}, started by this stack but not in state.json)")
    return stopped


def taken_api_ports(config: StackConfig, state: dict) -> list[tuple[int, str, str]]:
    """(port, what, variable) for each simulator port held by something that is not ours."""
    taken = []
    for code, sim in config.simulators.items():
        record = state.get("apis", {}).get(code)
        ours = processes.alive(record) and record.get("port") == sim.port
        if not ours and not port_is_free(sim.port):
            taken.append((sim.port, f"the {code} API", f"{sim.env_prefix}_PORT"))
    return taken
