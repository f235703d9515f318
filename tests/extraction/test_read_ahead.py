"""Concurrent paging reads ahead by `concurrency` pages, never more: what it reads ahead is
held in memory until ingestion takes it, so a window of any size must not be read ahead."""

from __future__ import annotations

import threading

import pytest

from retail_pipeline.extraction.paging import PAGING


@pytest.mark.parametrize("concurrency", [2, 3])
def test_pages_in_flight_stay_at_concurrency_while_the_caller_is_busy(concurrency):
    paging = PAGING.get("acme_foods", "page_number")("acme_foods", {"page_size": 10}, concurrency)
    requested: list[int] = []
    lock = threading.Lock()

    def fetch(params: dict) -> dict:
        with lock:
            requested.append(params["page"])
        return {"page": params["page"]}

    pages = [{"page": n} for n in range(1, 101)]
    taken = []
    for body in paging.fetch_many(fetch, pages):
        taken.append(body["page"])
        # while the caller turns page k into columns, at most `concurrency` more are requested
        assert len(requested) <= len(taken) + concurrency, (len(taken), len(requested))
    assert taken == list(range(1, 101)) and sorted(requested) == taken
