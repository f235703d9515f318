"""Database helpers shared by the retailer APIs and the generator: DSNs, a pool, schemas."""

from __future__ import annotations

import logging
import threading
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

import psycopg2
import psycopg2.pool

from retailers.common.registry import spec

log = logging.getLogger(__name__)

# Failures that mean "the database is not there right now", as opposed to a bug in our SQL.
UNAVAILABLE = (psycopg2.OperationalError, psycopg2.InterfaceError, psycopg2.pool.PoolError)


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
    """A ThreadedConnectionPool that opens lazily and drops connections that broke.

    Lazy (minconn=0) so an API can start and report 503 on /health while its database is down,
    and recover by itself when the database comes back.
    """

    def __init__(self, url: str, maxconn: int = 8, statement_timeout_ms: int = 120_000):
        self._pool = psycopg2.pool.ThreadedConnectionPool(
            0, maxconn, libpq_dsn(url), connect_timeout=3,
            options=f"-c statement_timeout={statement_timeout_ms} -c TimeZone=UTC",
            application_name="retailer-api",
        )
        # getconn raises instead of waiting when all are busy; the semaphore makes threads queue.
        self._slots = threading.BoundedSemaphore(maxconn)

    @contextmanager
    def cursor(self) -> Iterator:
        """A cursor on a pooled autocommit connection; broken connections are discarded."""
        with self._slots:
            try:
                conn = self._pool.getconn()
            except UNAVAILABLE as exc:
                raise DatabaseUnavailable(str(exc).strip()) from exc
            broken = False
            try:
                conn.autocommit = True
                with conn.cursor() as cur:
                    yield cur
            except UNAVAILABLE as exc:
                broken = True
                raise DatabaseUnavailable(str(exc).strip()) from exc
            finally:
                self._pool.putconn(conn, close=broken or bool(conn.closed))

    def ping(self) -> bool:
        try:
            with self.cursor() as cur:
                cur.execute("SELECT 1")
                return cur.fetchone() == (1,)
        except DatabaseUnavailable:
            return False

    def close(self) -> None:
        self._pool.closeall()


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
