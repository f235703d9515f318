"""Deadlines of an extraction: one attempt's (`request_seconds`) and the whole extraction's
(`extraction_seconds`).

urllib3's read timeout is per socket read, so an API trickling a byte every few seconds never
trips it (issue 10: 170 s in one request). A `Watch` armed for each attempt shuts the socket of
that attempt down when its time is up: the blocked read returns at once, urllib3 sees a broken
connection, and the retry hook (extraction/http.py) tells a timed-out attempt (retried) from an
extraction out of time (failed at once). The pools below make connections a `Watch` can stop:
the Watch of the current thread (`watching`) is armed when a request is sent and disarmed when
its response, body included, has been read.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from retail_pipeline.extraction.errors import RetailerApiError

DEFAULT_DEADLINE = {"request_seconds": 120.0, "extraction_seconds": 1800.0}
_local = threading.local()


@dataclass
class Deadline:
    """The extraction's end (monotonic) and one attempt's allowance."""

    request_seconds: float
    extraction_seconds: float
    ends: float = field(default=float("inf"))

    @classmethod
    def from_config(cls, retailer: str, config: dict[str, Any] | None) -> Deadline:
        config = {**DEFAULT_DEADLINE, **(config or {})}
        unknown = set(config) - set(DEFAULT_DEADLINE)
        if unknown:
            raise RetailerApiError(f"{retailer}: unknown deadline option(s) {', '.join(sorted(unknown))}; "
                                   f"known: {', '.join(DEFAULT_DEADLINE)}")
        return cls(float(config["request_seconds"]), float(config["extraction_seconds"]))

    def start(self) -> None:
        self.ends = time.monotonic() + self.extraction_seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def exceeded(self, retailer: str, what: str) -> RetailerApiError:
        return RetailerApiError(
            f"{retailer}: the extraction did not finish within its deadline of {self.extraction_seconds:g} s "
            f"(deadline.extraction_seconds); stopped at {what}. The retailer's API is too slow or stalled: "
            f"check it (or raise the deadline) and rerun.")


class Watch:
    """Shuts the socket of the attempt in flight down when its time is up (armed per attempt)."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline, self.expired = deadline, None  # None | "request" | "extraction"
        self._timer: threading.Timer | None = None
        self._armed = False
        self._lock = threading.Lock()

    def arm(self, conn: HTTPConnection) -> None:
        self.disarm()
        self.expired = None
        limit = min(self.deadline.request_seconds, self.deadline.remaining())
        with self._lock:
            self._armed = True
        self._schedule(conn, max(0.0, limit), "request" if limit == self.deadline.request_seconds else "extraction")

    def _schedule(self, conn: HTTPConnection, delay: float, which: str) -> None:
        with self._lock:
            if not self._armed:
                return
            self._timer = threading.Timer(delay, self._expire, args=(conn, which))
            self._timer.daemon = True
            self._timer.start()

    def _expire(self, conn: HTTPConnection, which: str) -> None:
        with self._lock:  # under the lock: never after disarm() has returned
            if not self._armed:
                return
            self.expired = which
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read: the attempt fails now
                except OSError:
                    pass
                return
        self._schedule(conn, 0.05, which)  # still connecting (bounded by the connect timeout)

    def disarm(self) -> None:
        with self._lock:
            self._armed = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


class WatchedMixin:
    def request(self, *args: Any, **kwargs: Any) -> None:
        watch = getattr(_local, "watch", None)
        if watch is not None:
            watch.arm(self)
        try:
            return super().request(*args, **kwargs)  # type: ignore[misc]
        except BaseException:
            if watch is not None:
                watch.disarm()
            raise

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        try:  # the body is read here too (preload_content)
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        finally:
            watch = getattr(_local, "watch", None)
            if watch is not None:
                watch.disarm()


class _Connection(WatchedMixin, HTTPConnection):
    pass


class _HTTPSConnection(WatchedMixin, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


POOL_CLASSES = {"http": _Pool, "https": _HTTPSPool}


@contextmanager
def watching(watch: Watch) -> Iterator[None]:
    """Requests made by this thread inside the block are watched by `watch`."""
    _local.watch = watch
    try:
        yield
    finally:
        watch.disarm()
        _local.watch = None
