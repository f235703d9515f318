"""The local stack: `up`, `down`, `status` (`summary` is in summary.py).

`up` brings everything to the running state and leaves running parts alone, and restarts a
PostgreSQL that crashed (postmaster.py); `down` stops what `up` started (APIs first, then
PostgreSQL); both can be repeated safely. State lives in
`.stack/` (see docs/contracts.md), credentials for Kedro in `conf/local/credentials.yml`.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import subprocess
import sys
import time
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg2
from psycopg2 import sql

from retail_pipeline.localstack import processes
from retail_pipeline.localstack.config import (
    DATABASES,
    HOST,
    LOADER_ROLE,
    READER_ROLE,
    RETAILERS,
    WAREHOUSE_DB,
    StackConfig,
    StackError,
)
from retail_pipeline.localstack.postgres import LocalPostgres, port_is_free
from retail_pipeline.warehouse.migrate import apply_migrations

SECRET_NAMES = ("postgres", LOADER_ROLE, READER_ROLE)
_STATE_LOCK = threading.Lock()  # the API starters run in threads and share state.json


def say(message: str = "") -> None:
    print(message, flush=True)


# -- files -----------------------------------------------------------------------------------
def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_secrets(config: StackConfig, create: bool = True) -> dict[str, str]:
    """Generated passwords, made once and kept in .stack/secrets.json (0600)."""
    current: dict[str, str] = {}
    if config.secrets_file.exists():
        try:
            current = json.loads(config.secrets_file.read_text())
        except ValueError as exc:
            raise StackError(f"{config.secrets_file} is not valid JSON ({exc}); fix or delete it.") from None
    missing = [name for name in SECRET_NAMES if not current.get(name)]
    if missing and create:
        if "postgres" in missing and (config.pgdata / "PG_VERSION").exists():
            raise StackError(
                f"{config.secrets_file} lacks the PostgreSQL superuser password but the cluster "
                f"{config.pgdata} exists, so it cannot be reached. Run `make down`, then delete "
                f"{config.stack_dir} (this drops the local databases) and `make up` again."
            )
        for name in missing:
            current[name] = secrets.token_urlsafe(24)
        _write_private(config.secrets_file, json.dumps(current, indent=2) + "\n")
    return current


def load_state(config: StackConfig) -> dict:
    try:
        return json.loads(config.state_file.read_text())
    except (OSError, ValueError):
        return {}


def save_state(config: StackConfig, state: dict) -> None:
    state["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    _write_private(config.state_file, json.dumps(state, indent=2) + "\n")


@contextmanager
def _locked(config: StackConfig) -> Iterator[None]:
    """One `up`/`down` at a time per state dir."""
    config.stack_dir.mkdir(parents=True, exist_ok=True)
    with open(config.stack_dir / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"Another `up` or `down` is working on {config.stack_dir}; waiting for it...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _display(config: StackConfig, path: Path) -> str:
    try:
        return str(path.relative_to(config.root))
    except ValueError:
        return str(path)


# -- URLs and credentials --------------------------------------------------------------------
def db_url(config: StackConfig, dbname: str, role: str, password: str, driver: bool = True) -> str:
    scheme = "postgresql+psycopg2" if driver else "postgresql"
    return f"{scheme}://{role}:{password}@{HOST}:{config.pg_port}/{dbname}"


def _yaml_scalar(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value) else json.dumps(value)


def credentials_yaml(config: StackConfig, passwords: dict[str, str]) -> str:
    """conf/local/credentials.yml exactly as docs/contracts.md lays it out."""
    loader, reader = passwords[LOADER_ROLE], passwords[READER_ROLE]
    lines = [
        "# Written by `make up` (python -m retail_pipeline.localstack up); regenerated on every up.",
        "# Local development credentials only: git-ignored, never commit.",
        "warehouse:            # the loader role; owns the warehouse schema",
        f"  con: {db_url(config, WAREHOUSE_DB, LOADER_ROLE, loader)}",
        "warehouse_reader:     # read-only BI role",
        f"  con: {db_url(config, WAREHOUSE_DB, READER_ROLE, reader)}",
    ]
    for r in RETAILERS:
        lines.append(
            f'{r.code}_api: {{base_url: "{config.api_url(r.code)}", api_key: {_yaml_scalar(config.api_keys[r.code])}}}'
        )
    for r in RETAILERS:
        lines.append(f'{r.code}_db: {{con: "{db_url(config, r.db_name, LOADER_ROLE, loader, driver=False)}"}}')
    lines.append("raw_zone: {}          # the raw zone is the local folder data/01_raw: no keys")
    return "\n".join(lines) + "\n"


def write_credentials(config: StackConfig, passwords: dict[str, str]) -> None:
    _write_private(config.credentials_file, credentials_yaml(config, passwords))
    # A libpq password file, so `psql` can be shown without printing a password.
    entries = [
        f"{HOST}:{config.pg_port}:*:{LOADER_ROLE}:{passwords[LOADER_ROLE]}",
        f"{HOST}:{config.pg_port}:*:{READER_ROLE}:{passwords[READER_ROLE]}",
    ]
    _write_private(config.pgpass_file, "\n".join(entries) + "\n")


# -- PostgreSQL --------------------------------------------------------------------------------
def postgres(config: StackConfig, passwords: dict[str, str] | None = None) -> LocalPostgres:
    password = (passwords or {}).get("postgres", "")
    return LocalPostgres(config.pgdata, config.pg_port, password)


def running_pg(config: StackConfig) -> dict | None:
    """pid and port of the cluster's postmaster, read from postmaster.pid, if it runs."""
    pidfile = config.pgdata / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
        record = {"pid": int(lines[0]), "port": int(lines[3])}
    except (OSError, ValueError, IndexError):
        return None
    return record if processes.alive({"pid": record["pid"]}) else None


def _ensure_postgres(config: StackConfig, pg: LocalPostgres) -> str:
    """Start the cluster unless it runs (after a crash: clear the dead server's leftovers, recover)."""
    current = running_pg(config) if pg.initialized else None
    if current and pg.is_running() and current["port"] != config.pg_port:
        say(f"  PostgreSQL runs on port {current['port']} but RETAIL_PG_PORT is {config.pg_port}: restarting it.")
        pg.stop()
    fresh = not pg.initialized
    try:
        outcome = pg.start()
    except RuntimeError as exc:  # initdb/pg_ctl failures and a port taken meanwhile: say so, no traceback
        raise StackError(f"{exc}\nPostgreSQL log: {pg.logfile}") from exc
    if fresh:
        return "initialised and started"
    if outcome.startswith("already running"):
        pid = (running_pg(config) or {}).get("pid", "?")
        return outcome.replace("already running", f"already running (pid {pid})", 1)
    return outcome


def _ensure_databases(pg: LocalPostgres, passwords: dict[str, str]) -> list[str]:
    pg.ensure_role(LOADER_ROLE, passwords[LOADER_ROLE], createrole=True)
    # So a load that times out on a lock can name what the holder is doing (docs/warehouse.md).
    with closing(pg.connect()) as conn, conn.cursor() as cur:
        conn.autocommit = True
        cur.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(LOADER_ROLE)))
    created = []
    for name in DATABASES:
        if pg.ensure_database(name, owner=LOADER_ROLE):
            created.append(name)
        else:
            with closing(pg.connect()) as conn, conn.cursor() as cur:
                cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(LOADER_ROLE)))
    return created


def _apply_retailer_schemas(config: StackConfig, passwords: dict[str, str]) -> str:
    """`python -m retailers init-db` for each retailer, in parallel."""
    env = processes.child_env(config.root, config.stack_dir)
    env.pop(processes.OWNER_ENV)  # short-lived: not a stack process
    running = []
    for r in RETAILERS:
        url = db_url(config, r.db_name, LOADER_ROLE, passwords[LOADER_ROLE], driver=False)
        command = [sys.executable, "-m", "retailers", "init-db", "--retailer", r.code]
        # the DSN travels in the environment (RETAILERn_DATABASE_URL), not on a command line `ps` shows
        running.append((r, subprocess.Popen(command, cwd=config.root, env={**env, f"{r.env_prefix}_DATABASE_URL": url},
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    failures = []
    for r, proc in running:
        output, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            failures.append(f"{r.code} (exit {proc.returncode}):\n{_redact(output, passwords)[-2000:]}")
    if failures:
        raise StackError("Applying the retailer schemas (python -m retailers init-db) failed for " + "\n".join(failures))
    return "applied to " + ", ".join(r.db_name for r in RETAILERS)


def _redact(text: str, passwords: dict[str, str]) -> str:
    for value in passwords.values():
        text = text.replace(value, "***")
    return text


def _apply_warehouse_migrations(config: StackConfig, passwords: dict[str, str]) -> str:
    url = db_url(config, WAREHOUSE_DB, LOADER_ROLE, passwords[LOADER_ROLE])
    try:
        result = apply_migrations(url)
    except Exception as exc:
        raise StackError(f"Warehouse migrations failed on {WAREHOUSE_DB}: {_redact(str(exc), passwords)}") from exc
    return f"applied {', '.join(map(str, result))}" if result else "up to date"


def _ensure_reader(config: StackConfig, pg: LocalPostgres, passwords: dict[str, str]) -> None:
    """bi_reader may log in with its generated password; the migrations grant what it reads.

    The migrations create bi_reader NOLOGIN as retail_loader; if they have not (yet), create it
    the same way so that retail_loader administers it, then let it log in.
    """
    with closing(pg.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,))
        exists = cur.fetchone() is not None
    if not exists:
        conn = psycopg2.connect(db_url(config, WAREHOUSE_DB, LOADER_ROLE, passwords[LOADER_ROLE], driver=False),
                                connect_timeout=5)
        conn.autocommit = True
        with closing(conn), conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(READER_ROLE)))
    with closing(pg.connect()) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN NOCREATEROLE NOCREATEDB PASSWORD {}").format(
                sql.Identifier(READER_ROLE), sql.Literal(passwords[READER_ROLE])
            )
        )


# -- retailer APIs --------------------------------------------------------------------------
def _api_ok(config: StackConfig, code: str, record: dict | None) -> bool:
    return bool(
        record
        and processes.alive(record)
        and record.get("port") == config.api_ports[code]
        and record.get("database_port") == config.pg_port
    )


def _ensure_api(config: StackConfig, code: str, state: dict, passwords: dict[str, str]) -> str:
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
            note = "restarted (port or database changed)"
    elif record:
        note = "restarted (it had stopped)"
    retailer = next(r for r in RETAILERS if r.code == code)
    port = config.api_ports[code]
    pid = processes.start_retailer_api(
        code, port,
        db_url(config, retailer.db_name, LOADER_ROLE, passwords[LOADER_ROLE], driver=False),
        config.api_keys[code], config.log_path(code), config.root, config.stack_dir,
    )
    with _STATE_LOCK:
        apis[code] = {**processes.process_record(pid), "port": port, "url": config.api_url(code),
                      "database_port": config.pg_port, "log": str(config.log_path(code))}
        save_state(config, state)
    return f"{note} (pid {pid})"


def _preflight_ports(config: StackConfig, pg: LocalPostgres, state: dict, with_apis: bool) -> None:
    """Refuse before starting anything when a port we need is held by something that is not ours."""
    taken = []
    ours_pg = running_pg(config) if pg.initialized else None
    pg_port_ours = ours_pg is not None and ours_pg["port"] == config.pg_port
    if not pg_port_ours and not port_is_free(config.pg_port):
        taken.append((config.pg_port, "PostgreSQL", "RETAIL_PG_PORT"))
    if with_apis:
        for r in RETAILERS:
            record = state.get("apis", {}).get(r.code)
            ours = processes.alive(record) and record.get("port") == config.api_ports[r.code]
            if not ours and not port_is_free(config.api_ports[r.code]):
                taken.append((config.api_ports[r.code], f"the {r.code} API", f"{r.env_prefix}_PORT"))
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


# -- commands ---------------------------------------------------------------------------------
def up(config: StackConfig, with_apis: bool = True) -> int:
    with _locked(config):
        config.stack_dir.mkdir(parents=True, exist_ok=True)
        passwords = load_secrets(config)
        state = load_state(config)
        pg = postgres(config, passwords)
        _preflight_ports(config, pg, state, with_apis)

        t0 = time.monotonic()
        say(f"PostgreSQL 127.0.0.1:{config.pg_port}: {_ensure_postgres(config, pg)}")
        state["postgres"] = {**(running_pg(config) or {}), "datadir": str(config.pgdata),
                             "log": str(pg.logfile)}
        save_state(config, state)
        try:
            created = _ensure_databases(pg, passwords)
            say(f"Databases {', '.join(DATABASES)}: " + (f"created {', '.join(created)}" if created else "present"))
            say(f"Retailer schemas: {_apply_retailer_schemas(config, passwords)}")
            say(f"Warehouse migrations: {_apply_warehouse_migrations(config, passwords)}")
            _ensure_reader(config, pg, passwords)
        except psycopg2.Error as exc:  # e.g. the server died meanwhile: one clear line, no traceback
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StackError(f"PostgreSQL on {HOST}:{config.pg_port} failed while preparing the databases: "
                             f"{reason}\nSee {pg.logfile}; `make up` again restarts it if it stopped.") from exc
        write_credentials(config, passwords)
        say(f"Credentials for Kedro: {_display(config, config.credentials_file)}")

        if with_apis:
            # The three start side by side (each waits for its own /health); reports in order.
            state.setdefault("apis", {})
            with ThreadPoolExecutor(max_workers=len(RETAILERS)) as pool:
                futures = {r.code: pool.submit(_ensure_api, config, r.code, state, passwords) for r in RETAILERS}
                errors = []
                for r in RETAILERS:
                    try:
                        say(f"{r.code} API {config.api_url(r.code)}: {futures[r.code].result()}")
                    except StackError as exc:
                        errors.append(str(exc))
                if errors:
                    raise StackError("\n".join(errors) + "\n(`make status` shows what runs; `make down` stops it.)")
        save_state(config, state)
        say(f"Stack is up ({time.monotonic() - t0:.1f}s). `make status` reports it, `make down` stops it.")
    return 0


def down(config: StackConfig) -> int:
    if not config.stack_dir.exists():
        say(f"Nothing to stop: {config.stack_dir} does not exist.")
        return 0
    with _locked(config):
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
            pg = postgres(config)
            if pg.is_running():
                pid = (running_pg(config) or {}).get("pid")
                pg.stop()
                if pg.is_running():
                    raise StackError(f"PostgreSQL in {config.pgdata} did not stop; see {pg.logfile}.")
                stopped.append(f"PostgreSQL (pid {pid})")
        state["postgres"] = {"datadir": str(config.pgdata)}
        save_state(config, state)
    say("Stopped: " + ", ".join(stopped) if stopped else "Nothing was running.")
    return 0


def component_status(config: StackConfig) -> list[dict]:
    rows = []
    pg_record = running_pg(config) if (config.pgdata / "PG_VERSION").exists() else None
    pg_ready = False
    if pg_record:
        try:
            with closing(psycopg2.connect(host=HOST, port=pg_record["port"], dbname="postgres", user="postgres",
                                          password=load_secrets(config, create=False).get("postgres", ""),
                                          connect_timeout=3)):
                pg_ready = True
        except psycopg2.Error:
            pg_ready = False
    port = pg_record["port"] if pg_record else config.pg_port
    rows.append({
        "component": "postgresql", "state": "up" if pg_ready else ("not ready" if pg_record else "down"),
        "port": port, "pid": pg_record["pid"] if pg_record else "-",
        "url": f"postgresql://{HOST}:{port}/{WAREHOUSE_DB}",
    })
    apis = load_state(config).get("apis", {})
    for r in RETAILERS:
        record = apis.get(r.code)
        proc = processes.alive(record)
        port = record.get("port") if proc else config.api_ports[r.code]
        url = f"http://{HOST}:{port}"
        if proc is None:
            state = "down"
        else:
            body = processes.health(url)
            state = "up" if body is not None else "unhealthy"
        rows.append({"component": f"{r.code} api", "state": state, "port": port,
                     "pid": proc.pid if proc else "-", "url": url})
    return rows


STATUS_NOT_UP = 3  # exit code when some part is down (1 stays for errors): `make status` accepts it


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
