"""`prefetch`: the items of an iterable computed in a background thread, a bounded number ahead
of the caller, so Python work (numpy and pandas release the GIL in their loops) overlaps the
server's work on the other core: a load's chunks (warehouse.stream) and the binary COPY's
encoded batches (warehouse.pgbinary)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

_DONE = object()


def prefetch(items: Iterable[Any], depth: int = 1, name: str = "load-chunks") -> Iterator[Any]:
    """The items, each computed in a background thread while the caller works on the one before
    (at most `depth` computed ahead). An exception of the source is raised to the caller at the
    item it failed on; a caller that stops early (or closes the generator) stops the thread at its
    next item."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ahead.put((item, None), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
                del item
            ahead.put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            ahead.put((_DONE, exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, error = ahead.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
            del item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                ahead.get_nowait()
            except queue.Empty:
                thread.join(0.05)
