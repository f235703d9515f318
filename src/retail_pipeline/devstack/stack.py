"""The dev stack's commands: `up`, `down`, `status` (`summary` is in summary.py).

`up` brings everything to the running state and leaves running parts alone, restarts a
PostgreSQL that crashed (postmaster.py) and an API it started that state.json no longer
recognises (instead of refusing its port as someone else's); `down` stops what `up` started (APIs first, then
PostgreSQL); both can be repeated safely. State lives in `.stack/` (see docs/contracts.md),
credentials for Kedro in `conf/local/credentials.yml`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import psycopg2

from retail_pipeline.devstack import cluster, processes, simulators
from retail_pipeline.devstack.config import HOST, StackConfig, StackError
from retail_pipeline.devstack.credentials import write_credentials
from retail_pipeline.devstack.ports import port_is_free
from retail_pipeline.devstack.postgres import LocalPostgres
from retail_pipeline.devstack.state import load_secrets, load_state, locked, save_state, say

STATUS_NOT_UP = 3  # exit code when some part is down (1 stays for errors): `make status` accepts it


def _preflight_ports(config: StackConfig, pg: LocalPostgres, state: dict, with_apis: bool) -> None:
    """Refuse before starting anything when a port we need is held by something that is not ours."""
    taken = []
    ours_pg = cluster.running_pg(config) if pg.initialized else None
    if not (ours_pg is not None and ours_pg["port"] == config.pg_port) and not port_is_free(config.pg_port):
        taken.append((config.pg_port, "PostgreSQL", "RETAIL_PG_PORT"))
    if with_apis:
        taken += simulators.taken_api_ports(config, state)
    if taken:
        lines = []
        for port, what, env in taken:
            who = processes.port_owner(port)
            lines.append(
                f"  port {port} (for {what}) is already in use{' by ' + who if who else ''}; "
                f"stop that program or choose another port, e.g. `{env}={_suggest(port)} make up`"
            )
        raise StackError("Cannot start the local stack; nothing was started:\n" + "\n".join(lines)
                         + "\nUse the same variables for every later command (make run/status/down), or export them.")


def _suggest(port: int) -> int:
    for candidate in range(port + 10, port + 200, 10):
        if port_is_free(candidate):
            return candidate
    return port + 10


def _prepare_databases(config: StackConfig, pg: LocalPostgres, passwords: dict[str, str]) -> None:
    try:
        created = cluster.ensure_databases(config, pg, passwords)
        say(f"Databases {', '.join(config.databases)}: " + (f"created {', '.join(created)}" if created else "present"))
        say(f"Retailer schemas: {simulators.apply_schemas(config, passwords)}")
        say(f"Warehouse migrations: {cluster.apply_warehouse_migrations(config, passwords)}")
        cluster.ensure_reader(config, pg, passwords)
    except psycopg2.Error as exc:  # e.g. the server died meanwhile: one clear line, no traceback
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StackError(f"PostgreSQL on {HOST}:{config.pg_port} failed while preparing the databases: "
                         f"{reason}\nSee {pg.logfile}; `make up` again restarts it if it stopped.") from exc


def _start_apis(config: StackConfig, state: dict, passwords: dict[str, str]) -> None:
    """Every simulator side by side (each waits for its own /health); reports in registry order."""
    state.setdefault("apis", {})
    codes = list(config.simulators)
    with ThreadPoolExecutor(max_workers=max(len(codes), 1)) as pool:
        futures = {code: pool.submit(simulators.ensure_api, config, code, state, passwords) for code in codes}
        errors = []
        for code in codes:
            try:
                say(f"{code} API {config.api_url(code)}: {futures[code].result()}")
            except StackError as exc:
                errors.append(str(exc))
    if errors:
        raise StackError("\n".join(errors) + "\n(`make status` shows what runs; `make down` stops it.)")


def up(config: StackConfig, with_apis: bool = True) -> int:
    with locked(config):
        passwords = load_secrets(config)
        state = load_state(config)
        pg = cluster.postgres(config, passwords)
        if with_apis:
            for stopped in simulators.stop_unrecorded_apis(config, state):
                say(f"Stopped {stopped}; it is started again below")
        _preflight_ports(config, pg, state, with_apis)

        t0 = time.monotonic()
        say(f"PostgreSQL {HOST}:{config.pg_port}: {cluster.ensure_postgres(config, pg)}")
        state["postgres"] = {**(cluster.running_pg(config) or {}), "datadir": str(config.pgdata),
                             "log": str(pg.logfile)}
        save_state(config, state)
        _prepare_databases(config, pg, passwords)
        write_credentials(config, passwords)
        say(f"Credentials for Kedro: {config.display(config.credentials_file)}")
        if with_apis:
            _start_apis(config, state, passwords)
        save_state(config, state)
        say(f"Stack is up ({time.monotonic() - t0:.1f}s). `make status` reports it, `make down` stops it.")
    return 0


def down(config: StackConfig) -> int:
    if not config.stack_dir.exists():
        say(f"Nothing to stop: {config.stack_dir} does not exist.")
        return 0
    with locked(config):
        state = load_state(config)
        stopped, victims = [], []
        for code, record in sorted(state.get("apis", {}).items()):
            proc = processes.alive(record)
            if proc is not None:
                victims.append(proc)
                stopped.append(f"{code} API (pid {proc.pid})")
        known = {proc.pid for proc in victims}
        for proc in processes.owned_processes(config.stack_dir):  # strays, e.g. state.json lost
            if proc.pid in known:
                continue
            try:
                what = " ".join(proc.cmdline()[1:6])
            except psutil.Error:
                what = "process"
            victims.append(proc)
            stopped.append(f"stray {what} (pid {proc.pid})")
        processes.stop_processes(victims)
        state["apis"] = {}
        if (config.pgdata / "PG_VERSION").exists():
            pg = cluster.postgres(config)
            if pg.is_running():
                pid = (cluster.running_pg(config) or {}).get("pid")
                pg.stop()
                if pg.is_running():
                    raise StackError(f"PostgreSQL in {config.pgdata} did not stop; see {pg.logfile}.")
                stopped.append(f"PostgreSQL (pid {pid})")
        state["postgres"] = {"datadir": str(config.pgdata)}
        save_state(config, state)
    say("Stopped: " + ", ".join(stopped) if stopped else "Nothing was running.")
    return 0


def component_status(config: StackConfig) -> list[dict]:
    superuser = load_secrets(config, create=False).get("postgres", "")
    return [cluster.pg_status(config, superuser), *simulators.api_status(config, load_state(config))]


def status(config: StackConfig) -> int:
    rows = component_status(config)
    headers = ("component", "state", "port", "pid", "url")
    widths = {h: max(len(h), *(len(str(row[h])) for row in rows)) for h in headers}
    say("  ".join(h.upper().ljust(widths[h]) for h in headers))
    for row in rows:
        say("  ".join(str(row[h]).ljust(widths[h]) for h in headers))
    down_parts = [row["component"] for row in rows if row["state"] != "up"]
    if down_parts:
        say(f"\nNot up: {', '.join(down_parts)}. Start the stack with `make up`.")
        return STATUS_NOT_UP
    say("\nAll components are up.")
    return 0


def seed(config: StackConfig, args: list[str]) -> int:
    """Seed every simulator's database (`python -m retailers seed ARGS` each, in parallel)."""
    passwords = load_secrets(config, create=False)
    if not passwords:
        raise StackError(f"No stack in {config.stack_dir}: `make up` first (make seed does).")
    simulators.seed(config, passwords, args)
    return 0
