"""A real PostgreSQL server that the project runs itself, for the local stack and the tests.

Binaries come from the `pgserver` wheel (PostgreSQL 16, initdb/pg_ctl/psql included) or, failing
that, from a PostgreSQL already on PATH. PostgreSQL refuses to run as root, so under root the
server runs as an unprivileged system user that is created on first use.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shutil
import subprocess
import time
from contextlib import closing
from pathlib import Path

import psycopg2
from psycopg2 import sql

from retail_pipeline.devstack.ports import free_port, port_is_free  # noqa: F401  (re-exported)
from retail_pipeline.devstack.postmaster import clear_crash_leftovers, postmaster

SERVICE_USER = "retailpg"

# Settings for a laptop-sized warehouse: bulk loads (COPY into tables created in the same
# transaction skips WAL under wal_level=minimal), big sorts for index builds, TCP only.
# Durability stays at PostgreSQL's safe defaults (fsync, synchronous_commit, full_page_writes
# on): a load that reported success must survive a crash (issue 9).
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "'4GB'",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_connections": "100",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}
# Never set by the stack: a cluster made by an earlier version (synchronous_commit = off) loses
# these lines from its postgresql.auto.conf when it starts, or reloads if it already runs.
DURABILITY_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


def bin_dir() -> Path:
    """Directory holding initdb, pg_ctl and psql: the pgserver wheel first, then PATH."""
    spec = importlib.util.find_spec("pgserver")  # located, not imported: its import has side effects
    if spec and spec.submodule_search_locations:
        candidate = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
        if (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "No PostgreSQL binaries found: install the project (pip install -e .) so the pgserver "
        "wheel provides them, or put PostgreSQL's bin directory on PATH."
    )


def _service_user() -> pwd.struct_passwd | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _make_traversable(path: Path) -> None:
    """Let the service user reach `path` through its parent directories."""
    for parent in list(path.parents)[:-1]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


class LocalPostgres:
    """One PostgreSQL cluster in `datadir`, listening on 127.0.0.1:`port`."""

    def __init__(self, datadir: Path, port: int, superuser_password: str):
        self.datadir = Path(datadir).resolve()
        self.port = port
        self.superuser = "postgres"
        self.superuser_password = superuser_password
        self.logfile = self.datadir.parent / f"{self.datadir.name}.log"
        self._bin = bin_dir()
        self._user = _service_user()

    # -- process control ---------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid} if self._user else {}
        if self._user:
            # The service user must reach the binaries (a checkout under a 0700 folder, e.g.
            # from mktemp -d, would hide them) and the cluster (pytest resets
            # /tmp/pytest-of-<user> to 0700 whenever a session starts; pg_ctl would then wrongly
            # report the server stopped).
            _make_traversable(self._bin / args[0])
            if self.datadir.parent.exists():
                _make_traversable(self.datadir)
        return subprocess.run(
            [str(self._bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=check,
            cwd="/",
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
            **kwargs,
        )

    @property
    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster (once): superuser `postgres`, password auth over TCP."""
        if self.initialized:
            return
        self.datadir.mkdir(parents=True, exist_ok=True)
        pwfile = self.datadir.parent / f".{self.datadir.name}.pw"
        pwfile.write_text(self.superuser_password + "\n")
        if self._user:
            _make_traversable(self.datadir)
            for path in (self.datadir, pwfile):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
            self.logfile.touch()
            os.chown(self.logfile, self._user.pw_uid, self._user.pw_gid)
        self.datadir.chmod(0o700)
        try:
            result = self._run(
                "initdb", "-D", str(self.datadir), "-U", self.superuser, "-E", "UTF8",
                "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}", check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed for {self.datadir}:\n{result.stderr}")
        with open(self.datadir / "postgresql.auto.conf", "a") as conf:
            for key, value in SERVER_SETTINGS.items():
                conf.write(f"{key} = {value}\n")

    def is_running(self) -> bool:
        """A live postmaster works in the data directory (a zombie or recycled pid does not count)."""
        return self.initialized and postmaster(self.datadir) is not None

    def start(self, timeout: int = 60) -> str:
        """Start the cluster unless it runs, after clearing what a crash left; says what it did."""
        self.init()
        removed = self._drop_durability_overrides()
        note = f" without its {', '.join(removed)} override (durable commits)" if removed else ""
        if self.is_running():
            if removed:
                self._reload(timeout)
                return "already running; reloaded" + note
            self.wait_ready(timeout)
            return "already running"
        crashed = clear_crash_leftovers(self.datadir)
        if not port_is_free(self.port):
            raise RuntimeError(
                f"Port {self.port} is already taken, so PostgreSQL cannot listen there. "
                f"Stop whatever uses it or choose another port (RETAIL_PG_PORT=...)."
            )
        result = self._run(
            "pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.logfile), "-w",
            "-t", str(timeout), "-o", f"-p {self.port}", check=False,
        )
        if result.returncode != 0:
            log = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start on port {self.port}:\n{result.stderr}\n{log}")
        self.wait_ready(timeout)
        if crashed:
            return f"restarted{note} after a crash (the server, pid {crashed}, had died; crash recovery done)"
        return "started" + note

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until the server accepts connections (start-up, crash recovery); RuntimeError if not."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect().close()
                return
            except psycopg2.OperationalError as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                transient = any(s in reason for s in (
                    "starting up", "recovery", "not yet accepting", "shutting down", "Connection refused",
                    "timeout expired"))
                if not transient or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL on port {self.port} does not accept connections: {reason}. "
                        f"See its log {self.logfile}.") from exc
                time.sleep(0.2)

    def _drop_durability_overrides(self) -> list[str]:
        """Remove fsync/synchronous_commit/full_page_writes lines the stack no longer sets from
        postgresql.auto.conf (clusters made by earlier versions had synchronous_commit = off)."""
        path = self.datadir / "postgresql.auto.conf"
        unwanted = [name for name in DURABILITY_SETTINGS if name not in SERVER_SETTINGS]
        try:
            lines = path.read_text().splitlines(keepends=True)
        except FileNotFoundError:
            return []
        pattern = re.compile(r"\s*(" + "|".join(unwanted) + r")\s*=") if unwanted else None
        kept = [line for line in lines if not (pattern and pattern.match(line))]
        if len(kept) == len(lines):
            return []
        removed = sorted({pattern.match(line).group(1) for line in lines if pattern.match(line)})
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(kept))
        owner = path.stat()
        os.chown(tmp, owner.st_uid, owner.st_gid)
        tmp.chmod(0o600)
        os.replace(tmp, path)
        return removed

    def _reload(self, timeout: float) -> None:
        """pg_reload_conf(), then wait until new sessions see the reloaded configuration."""
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_conf_load_time()")
            before = cur.fetchone()[0]
            cur.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + min(timeout, 10)
        while time.monotonic() < deadline:
            with closing(self.connect()) as conn, conn.cursor() as cur:
                cur.execute("SELECT pg_conf_load_time()")
                if cur.fetchone()[0] > before:
                    return
            time.sleep(0.1)

    def stop(self) -> None:
        if self.is_running():
            self._run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "fast", "-w", check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.logfile.unlink(missing_ok=True)

    # -- SQL helpers -------------------------------------------------------------------
    def connect(self, dbname: str = "postgres"):
        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, dbname=dbname,
            user=self.superuser, password=self.superuser_password, connect_timeout=5,
        )
        conn.autocommit = True
        return conn

    def url(self, dbname: str, user: str | None = None, password: str | None = None) -> str:
        """SQLAlchemy URL (psycopg2 driver) for `dbname`, as the superuser unless told otherwise."""
        user = user or self.superuser
        password = password if user != self.superuser else self.superuser_password
        return f"postgresql+psycopg2://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def dsn(self, dbname: str, user: str | None = None, password: str | None = None) -> str:
        """libpq URL (for psycopg2.connect, psql) for `dbname`."""
        return self.url(dbname, user, password).replace("postgresql+psycopg2://", "postgresql://")

    def ensure_role(self, role: str, password: str, *, createrole: bool = False) -> None:
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            options = sql.SQL("LOGIN PASSWORD {} {}").format(
                sql.Literal(password), sql.SQL("CREATEROLE" if createrole else "NOCREATEROLE")
            )
            cur.execute(sql.SQL(verb + " ROLE {} WITH ").format(sql.Identifier(role)) + options)

    def ensure_database(self, dbname: str, owner: str | None = None, template: str | None = None) -> bool:
        """Create `dbname` if missing; returns True when it was created."""
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            if cur.fetchone():
                return False
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
            if owner:
                statement += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            cur.execute(statement)
            return True

    def drop_database(self, dbname: str) -> None:
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
