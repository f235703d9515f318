"""OFFSET paging in O(page size) per request: a per-window sparse key index, keyed by data version.

Retailers 1 and 2 page by OFFSET (page number / offset): the contract. Answering page k of a big
day from scratch costs a count(*) over the whole window plus an OFFSET scan to the page's first
row, so each request costs O(rows of the window) and a walk O(rows^2 / page size).

Instead, the first request for a window builds in one scan its total and a bookmark (the
(timestamp, id) ordering key) at every EVERY-th position. A request for offset k then starts at
the bookmark at floor(k / EVERY) * EVERY, skips fewer than EVERY index entries and reads the page
by keyset: the same rows, in the same order, with the same total, as the plain OFFSET query.

Staleness: each retailer table has a one-row `<table>_version` table bumped by a statement-level
trigger on INSERT/UPDATE/DELETE/TRUNCATE (schema.sql), so the bump commits atomically with the
change. The index query and the page query each read the version in the same statement (one
snapshot) as the data; a page is answered from an index only when both saw the same version,
otherwise the index is rebuilt (a few attempts, then the plain query). So a response is always
what the plain OFFSET query would have answered on one snapshot of the data.

Every answer also carries that data version (read in the page's own statement), which the apps
serve as the `X-Data-Version` header: a client that sees the same version on every page of a
walk knows no change committed between its first and its last page (retailers/README.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import psycopg2.errors

log = logging.getLogger(__name__)

EVERY = 1000          # a bookmark every EVERY rows: a page skips at most EVERY - 1 index entries
MAX_WINDOWS = 64      # windows kept (LRU); ~60 bytes per bookmark, 1000 bookmarks per 1M rows
ATTEMPTS = 3          # rebuilds after a version change before falling back to the plain query


@dataclass(frozen=True)
class WindowIndex:
    version: int
    total: int
    every: int
    stamps: tuple      # ordering timestamp of rows 0, every, 2*every, ... of the window
    ids: tuple         # their ids

    def bookmark(self, offset: int) -> tuple[Any, Any, int]:
        """(timestamp, id, rows still to skip) to reach `offset`; (None, None, 0) past the end."""
        if offset >= self.total:
            return None, None, 0
        slot = offset // self.every
        return self.stamps[slot], self.ids[slot], offset - slot * self.every


class OffsetPager:
    """Serves (total, count, records JSON) for an OFFSET page of a date window, thread-safe.

    SQL (psycopg2 named parameters, `%%` for a literal %):
    - `index_sql` (lo, hi, every) -> one row (version, total, timestamps[], ids[]) where the
      arrays hold the keys at 0-based positions 0, every, 2*every, ...;
    - `page_sql` (lo, hi, ts, id, skip, limit) -> one row (version, count, records JSON) of the
      `limit` rows from the `skip`-th row at or after key (ts, id); no rows when ts/id are null;
    - `plain_sql` (lo, hi, offset, limit) -> (version, total, count, records JSON): the reference
      query, with a `{version}` placeholder for the version expression (`version_sql`), which is
      NULL when the version table is missing.
    """

    def __init__(self, pool, index_sql: str, page_sql: str, plain_sql: str, version_sql: str,
                 every: int = EVERY, max_windows: int = MAX_WINDOWS) -> None:
        self._pool = pool
        self._index_sql, self._page_sql = index_sql, page_sql
        self._plain_sql = {True: plain_sql.format(version=version_sql),
                           False: plain_sql.format(version="NULL::bigint")}
        self._every, self._max = every, max_windows
        self._lock = threading.Lock()
        self._windows: OrderedDict[tuple, WindowIndex] = OrderedDict()
        self._building: dict[tuple, threading.Lock] = {}

    # -- cache ----------------------------------------------------------------------------
    def _cached(self, key: tuple) -> WindowIndex | None:
        with self._lock:
            index = self._windows.get(key)
            if index is not None:
                self._windows.move_to_end(key)
            return index

    def _index(self, key: tuple, cur, stale: int | None) -> WindowIndex:
        """The window's index; rebuilt when missing or when it has version `stale` (outdated).

        One build per window at a time: a concurrent request for it waits and takes the result.
        """
        with self._lock:
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            index = self._cached(key)
            if index is None or index.version == stale:
                index = self._build(key, cur)
                with self._lock:
                    self._windows[key] = index
                    self._windows.move_to_end(key)
                    while len(self._windows) > self._max:
                        old, _ = self._windows.popitem(last=False)
                        self._building.pop(old, None)
        return index

    def _build(self, key: tuple, cur) -> WindowIndex:
        lo, hi = key
        cur.execute(self._index_sql, {"lo": lo, "hi": hi, "every": self._every})
        version, total, stamps, ids = cur.fetchone()
        return WindowIndex(version, total, self._every, tuple(stamps or ()), tuple(ids or ()))

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()

    # -- requests -------------------------------------------------------------------------
    def page(self, lo: dt.date, hi: dt.date, offset: int, limit: int) -> tuple[int | None, int, int, str]:
        """(data version, total, count, records JSON) of the page, all from one snapshot; the
        version is None only when the version table is missing."""
        key = (lo, hi)
        with self._pool.cursor() as cur:
            try:
                index = self._cached(key) or self._index(key, cur, None)
                for _ in range(ATTEMPTS):
                    ts, ident, skip = index.bookmark(offset)
                    cur.execute(self._page_sql, {"lo": lo, "hi": hi, "ts": ts, "id": ident,
                                                 "skip": skip, "limit": limit})
                    version, count, data = cur.fetchone()
                    if version == index.version:
                        return version, index.total, count, data
                    index = self._index(key, cur, index.version)  # the data changed: rebuild
                log.warning("data kept changing while paging %s; answering with the plain query", key)
            except psycopg2.errors.UndefinedTable:
                log.warning("no data version table (schema not re-applied?): plain OFFSET paging")
                return self.plain(cur, lo, hi, offset, limit, versioned=False)
            return self.plain(cur, lo, hi, offset, limit)

    def plain(self, cur, lo: dt.date, hi: dt.date, offset: int, limit: int,
              versioned: bool = True) -> tuple[int | None, int, int, str]:
        cur.execute(self._plain_sql[versioned], {"lo": lo, "hi": hi, "offset": offset, "limit": limit})
        version, total, count, data = cur.fetchone()
        return version, total, count, data
