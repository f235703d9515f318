"""An extraction as a stream: pages turned into chunks of rows, with the events around them.

A retailer-day can hold millions of records, so `RetailerApiDataset` (chunk_rows set) hands
ingestion an iterable of events instead of one frame:

- `Attempt(n)`: the n-th walk over the window begins; whatever earlier walks yielded is void
  (the source changed while it was paged, extraction/consistency.py), so ingestion drops what
  it staged and starts over;
- a DataFrame: the next `chunk_rows` records as served (the columns `RetailerApiDataset`
  documents); a chunk may end inside a page, and so inside an order's lines;
- `Extracted(stats)`: the last event, once the walk is accepted: the extraction statistics.

The paging styles push pages to a callback (extraction/paging.py); `pages_in_background` runs
that walk in a thread and hands its pages over through a queue of a few pages, so the next
requests are in flight while a chunk is normalized and written, and memory holds a few pages
plus one chunk, whatever the window's size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from retail_pipeline.extraction.frames import Page, to_frame


@dataclass(frozen=True)
class Attempt:
    """A new walk over the window begins: what the earlier walks yielded is void."""

    number: int


@dataclass(frozen=True)
class Extracted:
    """The last event of an accepted extraction: its statistics (docs/contracts.md)."""

    stats: dict[str, Any] = field(default_factory=dict)


class _Stopped(Exception):
    """The consumer went away (a failure downstream): the walk stops at its next page."""


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()


def pages_in_background(walk: Callable[[Callable[[Page], None]], None], depth: int = 4,
                        name: str = "extraction") -> Iterator[Page]:
    """The pages `walk(put)` produces (in a thread of its own), in order, at most `depth`
    waiting; the walk's error is raised here. Closing the iterator stops the walk."""
    pending: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def run() -> None:
        try:
            walk(put)
            item: Any = _DONE
        except _Stopped:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            item = _Failed(exc)
        try:
            put(item)
        except _Stopped:
            pass

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = pending.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


def split_page(page: Page, rows: int) -> tuple[Page, Page]:
    """(the first `rows` rows, the rest) of a page; Arrow slices and numpy views, no copy."""
    def cut(values: Any, start: int, stop: int) -> Any:
        return values.slice(start, stop - start) if isinstance(values, pa.Array) else values[start:stop]

    head = Page(page.number, rows, {k: cut(v, 0, rows) for k, v in page.columns.items()},
                cut(page.source_record, 0, rows), records=page.records,
                orders_without_lines=page.orders_without_lines)
    tail = Page(page.number, page.rows - rows, {k: cut(v, rows, page.rows) for k, v in page.columns.items()},
                cut(page.source_record, rows, page.rows), records=0)
    return head, tail


def chunk_frame(pages: list[Page], fields: list[str]) -> pd.DataFrame:
    """The pages as one frame; a declared field none of them served is a column of nulls (as
    the part of a page without it would be), so every chunk has the declared shape."""
    frame = to_frame(pages, fields)
    for name in fields:
        if name not in frame.columns:
            frame[name] = np.full(len(frame), np.nan)
    return frame


def chunked(pages: Iterable[Page], rows: int | None, fields: list[str]) -> Iterator[pd.DataFrame]:
    """Frames of exactly `rows` rows (the last one fewer) cut from the pages in order; one
    frame of every page when `rows` is None. No frame for a walk without rows."""
    held: list[Page] = []
    count = 0
    for page in pages:
        while page.rows:
            room = page.rows if rows is None else rows - count
            if page.rows > room:
                head, page = split_page(page, room)
                held.append(head)
                count += head.rows
            else:
                held.append(page)
                count += page.rows
                page = Page(page.number, 0, {}, pa.array([], type=pa.large_string()), records=0)
            if rows is not None and count >= rows:
                yield chunk_frame(held, fields)
                held, count = [], 0
    if held:
        yield chunk_frame(held, fields)


class SalesStream:
    """A retailer's window as it is extracted: `Attempt`, frames of `chunk_rows` records and
    `Extracted` (the events above); iterate it once.

    With `start`, the walk starts when the stream is made: the first chunk is read then, so a
    retailer that is down or refuses the credentials fails the load of `<code>.api_sales`, as a
    whole-window load would; the rest streams as it is iterated. Without, nothing is asked
    until it is iterated."""

    def __init__(self, events: Iterator[Any], retailer: str, chunk_rows: int, start: bool = True) -> None:
        self.retailer, self.chunk_rows = retailer, chunk_rows
        self._events = events
        self._head: list[Any] = []
        for event in events if start else ():
            self._head.append(event)
            if not isinstance(event, Attempt):
                break

    def __iter__(self) -> Iterator[Any]:
        head, self._head = self._head, []
        yield from head
        del head
        yield from self._events

    def __repr__(self) -> str:
        return f"SalesStream({self.retailer!r}, chunk_rows={self.chunk_rows})"


__all__ = ["Attempt", "Extracted", "SalesStream", "chunk_frame", "chunked", "pages_in_background", "split_page"]
