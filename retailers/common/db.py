"""Database helpers shared by the retailer APIs and the generator: DSNs, a pool, schemas."""

from __future__ import annotations

import logging
import threading
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

import psycopg2
import psycopg2.extensions

from retailers.common.registry import spec

log = logging.getLogger(__name__)

# Failures that mean "the database is not there right now", as opposed to a bug in our SQL.
UNAVAILABLE = (psycopg2.OperationalError, psycopg2.InterfaceError)


def libpq_dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs (postgresql+psycopg2://) as well as plain libpq ones."""
    for prefix in ("postgresql+psycopg2://", "postgres+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def connect(url: str, **kwargs):
    return psycopg2.connect(libpq_dsn(url), connect_timeout=5, **kwargs)


class DatabaseUnavailable(RuntimeError):
    """Raised by the pool when PostgreSQL cannot be reached; the apps turn it into a 503."""


class Pool:
    """PostgreSQL connections for the API's request threads: opened lazily, kept for the next
    request, dropped when broken.

    Lazy so an API can start and report 503 on /health while its database is down, and recover
    by itself when the database comes back. Kept (up to `maxconn`, one per request in flight):
    a new connection is a new backend process with cold caches, which cost the server more than
    a page's query. A connection that broke drops every idle one with it (the server restarted
    or went away: they are all dead), so one request gets the 503 and the next connects anew.
    """

    def __init__(self, url: str, maxconn: int = 8, statement_timeout_ms: int = 120_000):
        self._dsn = libpq_dsn(url)
        self._options = f"-c statement_timeout={statement_timeout_ms} -c TimeZone=UTC"
        self._idle: list = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(maxconn)  # requests beyond maxconn queue here

    def _take(self):
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return psycopg2.connect(self._dsn, connect_timeout=3, options=self._options,
                                    application_name="retailer-api")
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable(str(exc).strip()) from exc

    def _give_back(self, conn, broken: bool) -> None:
        reusable = (not broken and not conn.closed
                    and conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE)
        with self._lock:
            if reusable:
                self._idle.append(conn)
                return
            dropped = [conn]
            if broken:  # the others are dead too
                dropped += self._idle
                self._idle = []
        for each in dropped:
            each.close()

    @contextmanager
    def cursor(self) -> Iterator:
        """A cursor on an autocommit connection of the pool; broken connections are discarded."""
        with self._slots:
            conn = self._take()
            broken = False
            try:
                conn.autocommit = True
                with conn.cursor() as cur:
                    yield cur
            except UNAVAILABLE as exc:
                broken = True
                raise DatabaseUnavailable(str(exc).strip()) from exc
            finally:
                self._give_back(conn, broken or bool(conn.closed))

    def ping(self) -> bool:
        try:
            with self.cursor() as cur:
                cur.execute("SELECT 1")
                return cur.fetchone() == (1,)
        except DatabaseUnavailable:
            return False

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def init_db(style: str, url: str) -> None:
    """Apply the style's schema.sql, then its data version and one version trigger per table
    (all idempotent)."""
    s = spec(style)
    here = Path(__file__).parent
    version = (here / "data_version.sql").read_text().replace("{table}", s.table)
    trigger = (here / "data_version_trigger.sql").read_text().replace("{table}", s.table)
    triggers = [trigger.replace("{watched}", watched) for watched in s.tables]
    ddl = "\n".join([s.schema_path.read_text(), version, *triggers])
    with closing(connect(url)) as conn, conn, conn.cursor() as cur:
        cur.execute(ddl)
