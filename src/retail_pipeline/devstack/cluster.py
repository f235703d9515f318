"""The stack's PostgreSQL: the cluster, its roles and databases, the warehouse migrations.

One cluster holds the warehouse and every simulated retailer's database; the loader role owns
them all, the BI reader only logs in to read the warehouse.
"""

from __future__ import annotations

from contextlib import closing

import psycopg2
from psycopg2 import sql

from retail_pipeline.devstack import processes
from retail_pipeline.devstack.config import HOST, LOADER_ROLE, READER_ROLE, WAREHOUSE_DB, StackConfig, StackError
from retail_pipeline.devstack.credentials import db_url
from retail_pipeline.devstack.postgres import LocalPostgres
from retail_pipeline.devstack.state import redact, say
from retail_pipeline.warehouse.migrate import apply_migrations


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


def ensure_postgres(config: StackConfig, pg: LocalPostgres) -> str:
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


def ensure_databases(config: StackConfig, pg: LocalPostgres, passwords: dict[str, str]) -> list[str]:
    """The loader role and every database (warehouse + one per retailer), owned by it; returns
    the databases it created."""
    pg.ensure_role(LOADER_ROLE, passwords[LOADER_ROLE], createrole=True)
    # So a load that times out on a lock can name what the holder is doing (docs/warehouse.md).
    with closing(pg.connect()) as conn, conn.cursor() as cur:
        conn.autocommit = True
        cur.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(LOADER_ROLE)))
    created = []
    for name in config.databases:
        if pg.ensure_database(name, owner=LOADER_ROLE):
            created.append(name)
        else:
            with closing(pg.connect()) as conn, conn.cursor() as cur:
                cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(LOADER_ROLE)))
    return created


def apply_warehouse_migrations(config: StackConfig, passwords: dict[str, str]) -> str:
    url = db_url(config, WAREHOUSE_DB, LOADER_ROLE, passwords[LOADER_ROLE])
    try:
        result = apply_migrations(url)
    except Exception as exc:
        raise StackError(f"Warehouse migrations failed on {WAREHOUSE_DB}: {redact(str(exc), passwords)}") from exc
    return f"applied {', '.join(map(str, result))}" if result else "up to date"


def ensure_reader(config: StackConfig, pg: LocalPostgres, passwords: dict[str, str]) -> None:
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


def pg_status(config: StackConfig, superuser_password: str) -> dict:
    """The status row of PostgreSQL: up (accepts connections), not ready, or down."""
    record = running_pg(config) if (config.pgdata / "PG_VERSION").exists() else None
    ready = False
    if record:
        try:
            with closing(psycopg2.connect(host=HOST, port=record["port"], dbname="postgres", user="postgres",
                                          password=superuser_password, connect_timeout=3)):
                ready = True
        except psycopg2.Error:
            ready = False
    port = record["port"] if record else config.pg_port
    return {"component": "postgresql", "state": "up" if ready else ("not ready" if record else "down"),
            "port": port, "pid": record["pid"] if record else "-",
            "url": f"postgresql://{HOST}:{port}/{WAREHOUSE_DB}"}
