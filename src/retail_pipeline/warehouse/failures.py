"""Why a warehouse load failed, said on one line: the real cause, what state the warehouse is
in, and what to do.

- connection lost before COMMIT: the server closed it (crash, restart, terminated backend);
  nothing was committed, so the server rolled the load back;
- connection lost during COMMIT: the outcome is unknown; a rerun is the repair (idempotent);
- lock timeout: which lock the load waited for and who holds it, from a second connection that
  watches the load's backend while it runs (pg_locks, pg_blocking_pids, pg_stat_activity);
- anything else: the server's message, first line, and the rollback.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import closing
from typing import Any

import psycopg2
import psycopg2.errors

from retail_pipeline.warehouse.sqlfiles import text

logger = logging.getLogger(__name__)

_LOST_CODES = {"57P01", "57P02", "57P03"}  # admin_shutdown, crash_shutdown, cannot_connect_now
_LOST_TEXT = ("server closed the connection", "terminating connection", "connection already closed",
              "could not receive data", "could not send data", "no connection to the server",
              "SSL SYSCALL", "connection to server")


def connection_lost(exc: BaseException, conn) -> bool:
    if not isinstance(exc, psycopg2.Error):
        return False
    if conn is not None and conn.closed:
        return True
    return exc.pgcode in _LOST_CODES or (exc.pgcode is None and any(t in str(exc) for t in _LOST_TEXT))


def server_says(exc: BaseException) -> str:
    """The server's (or libpq's) message, as one line."""
    message = getattr(exc, "pgerror", None) or str(exc)
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return " / ".join(dict.fromkeys(lines)).rstrip(".") or type(exc).__name__


class LockWatcher:
    """Watches the load's backend from a second connection: whenever it waits for a lock, remembers
    the lock and its holders, so a lock timeout can name them. Never fails the load."""

    def __init__(self, dsn: str, pid: int, interval: float = 1.0):
        self._dsn, self._pid, self.interval = dsn, pid, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_wait: list[dict[str, Any]] = []

    def start(self, interval: float | None = None) -> "LockWatcher":
        if interval:
            self.interval = interval
        self._thread = threading.Thread(target=self._run, name=f"lock-watcher-{self._pid}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with closing(psycopg2.connect(self._dsn, application_name="retail_pipeline load lock watcher")) as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    while not self._stop.wait(self.interval):
                        cur.execute(text("lock_waits"), {"pid": self._pid})
                        rows = cur.fetchall()
                        if rows:
                            columns = [c.name for c in cur.description]
                            self.last_wait = [dict(zip(columns, row)) for row in rows]
        except Exception as exc:  # diagnostics only: the load goes on without them
            logger.debug("lock watcher stopped: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def describe_lock_wait(rows: list[dict[str, Any]]) -> str:
    """'<mode> on <what> (<statement>), held by pid N (user, application, state, since ...)'."""
    if not rows:
        return ("a lock (the holder was not seen: the wait was shorter than the watcher's interval; "
                "look at pg_locks and pg_stat_activity if it happens again)")
    first = rows[0]
    if first["relation"]:
        what = f"{first['locktype'] if first['locktype'] != 'relation' else 'table'} {first['relation']}"
    else:
        what = f"a row locked by transaction {first['transactionid']}" if first["transactionid"] else first["locktype"]
    holders = "; ".join(_holder(r) for r in rows)
    return f"{first['mode']} on {what} while running `{_squash(first['waiting_query'])}`, held by {holders}"


def _holder(row: dict[str, Any]) -> str:
    state = row["state"] or "state hidden: grant pg_read_all_stats to the loader to see it"
    since = f", query started {row['query_start']:%Y-%m-%d %H:%M:%S%z}" if row["query_start"] else ""
    query = f", query `{_squash(row['query'])}`" if row["query"] and not row["query"].startswith("<") else ""
    return (f"pid {row['pid']} (user {row['usename']}, application_name '{row['application_name'] or ''}', "
            f"{state}{since}{query})")


def _squash(query: str | None) -> str:
    """A statement on one line without its comments, cut at 120 characters."""
    return " ".join(re.sub(r"--[^\n]*", " ", query or "").split())[:120]
