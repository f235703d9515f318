"""A walk's fingerprint (extraction/consistency.py): its records as a multiset, whatever pages
they came in; hashed in batches of pages, not one query per page (retailer 4 serves a window in
hundreds of small pages, and a query per page cost more than hashing the records)."""

from __future__ import annotations

import pytest

from retail_pipeline.extraction import consistency
from retail_pipeline.extraction.consistency import Extraction
from retail_pipeline.extraction.frames import page_frame

RECORDS = [{"id": f"T-{i}", "qty": i % 7, "price": 1.5 + i} for i in range(3000)]


def _walk(records: list[dict], page_rows: int) -> Extraction:
    extraction = Extraction(None)
    for number, start in enumerate(range(0, len(records), page_rows), start=1):
        extraction.add({}, page_frame(records[start:start + page_rows], number, ["id", "qty", "price"]))
    return extraction


def test_the_fingerprint_does_not_depend_on_paging_or_order():
    one, small = _walk(RECORDS, 3000), _walk(RECORDS, 7)
    shuffled = _walk(RECORDS[1500:] + RECORDS[:1500], 500)
    try:
        assert one.fingerprint() == small.fingerprint() == shuffled.fingerprint()
        assert one.fingerprint()[0] == 3000
    finally:
        for e in (one, small, shuffled):
            e.release()


@pytest.mark.parametrize("change", ["value", "missing", "extra"])
def test_other_records_give_another_fingerprint(change):
    other = [dict(r) for r in RECORDS]
    if change == "value":
        other[1234]["qty"] += 1
    elif change == "missing":
        del other[99]
    else:
        other.append(dict(RECORDS[5]))
    a, b = _walk(RECORDS, 100), _walk(other, 100)
    try:
        assert a.fingerprint() != b.fingerprint()
    finally:
        a.release()
        b.release()


def test_small_pages_are_hashed_in_batches(monkeypatch):
    queries = []
    real = consistency.Extraction._hash

    def counted(self, *args):
        queries.append(1)
        return real(self, *args)

    monkeypatch.setattr(consistency.Extraction, "_hash", counted)
    extraction = _walk(RECORDS, 10)  # 300 pages
    try:
        extraction.fingerprint()
    finally:
        extraction.release()
    assert 1 <= len(queries) <= 2
