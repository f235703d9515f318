"""Retailers 1 and 2: OFFSET paging from the per-(data version, window) sparse key index
(retailers/common/paging.py) answers exactly what the plain OFFSET query answers, also right
after the data changed (reseed, update, truncate bump the version)."""

from __future__ import annotations

import datetime as dt
import random
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import psycopg2
import pytest

from retailers.common.db import Pool
from retailers.common.paging import OffsetPager
from retailers.common.registry import RETAILERS
from retailers.retailer_1 import app as app_1
from retailers.retailer_2 import app as app_2
from tests.retailers.client import request

APPS = {"retailer_1": app_1, "retailer_2": app_2}
CODES = list(APPS)
DAY = "2024-01-15"
SAMPLE = 10  # random offsets per (window, size), beside the edge offsets
WINDOWS = [(dt.date(2024, 1, 15), dt.date(2024, 1, 16)), (dt.date(2024, 1, 14), dt.date(2024, 1, 17)),
           (dt.date(2024, 2, 1), dt.date(2024, 2, 2))]


def _seed(retailer_databases, rows: int, seed: int) -> None:
    """Three days plus a group of 40 rows sharing one timestamp (spanning bookmarks and pages)."""
    from retailers.generator import seed as seed_databases
    from tests.fixtures.retailers import truncate_retailers

    truncate_retailers(retailer_databases, CODES)
    seed_databases(retailer_databases, "2024-01-14", "2024-01-16", rows, 0.1, 0.1, seed, "2030-01-01", CODES)
    for code in CODES:
        s = RETAILERS[code]
        with closing(psycopg2.connect(retailer_databases[code])) as conn, conn, conn.cursor() as cur:
            cur.execute(f'UPDATE {s.table} SET "{s.ts_column}" = %s WHERE {s.id_column} IN '
                        f"(SELECT {s.id_column} FROM {s.table} WHERE {s.id_column} LIKE %s "
                        f"ORDER BY {s.id_column} LIMIT 40)", ("2024-01-15 12:00:00", f"{s.id_prefix}-20240115-%"))


@pytest.fixture(scope="module")
def pagers(retailer_databases):
    """In-process pagers with a bookmark every 7 rows, so pages start between bookmarks."""
    _seed(retailer_databases, 120, 3)
    made = {}
    for code in CODES:
        pool = Pool(retailer_databases[code], maxconn=8)
        made[code] = OffsetPager(pool, APPS[code].INDEX_SQL, APPS[code].PAGE_SQL, APPS[code].PLAIN_SQL,
                                 APPS[code].VERSION_SQL, every=7)
    yield made
    for pager in made.values():
        pager._pool.close()


def _plain(pager: OffsetPager, lo, hi, offset, limit):
    with pager._pool.cursor() as cur:
        return pager.plain(cur, lo, hi, offset, limit)


def _version(dsn: str, code: str) -> int:
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT version FROM {RETAILERS[code].table}_version")
        return cur.fetchone()[0]


def _sampled_offsets(total: int, limit: int, every: int, rng: random.Random) -> list[int]:
    """The offsets where paging from a sparse index goes wrong, plus a seeded random sample.

    Every (offset, size) pair of every window took ~70 s per retailer, 42% of the whole suite,
    to check the same few classes of bug again and again. The classes are: a page starting on,
    just after or just before a bookmark (multiples of `every`); a page crossing one or more
    bookmarks; the first and last pages; offsets at and past the end; and the 40-row group
    sharing one timestamp, which spans bookmarks (reached by the random offsets, which cover
    the window in SAMPLE draws). The seed is fixed, so a failure reproduces.
    """
    edges = {0, 1, every - 1, every, every + 1, 2 * every, 3 * every - 1, total - limit, total - 1,
             total, total + 1, total + 50}
    sample = rng.sample(range(total + 3), min(SAMPLE, total + 3))
    return sorted(o for o in edges | set(sample) if o >= 0)


@pytest.mark.parametrize("code", CODES)
def test_sampled_offsets_and_sizes_equal_the_plain_offset_query(code, pagers, retailer_databases):
    pager = pagers[code]
    rng = random.Random(f"paging-{code}")
    checked = 0
    for lo, hi in WINDOWS:
        total = _plain(pager, lo, hi, 0, 1)[1]  # (version, total, count, records)
        for limit in (1, 6, 7, 8, 40):
            for offset in _sampled_offsets(total, limit, 7, rng):
                assert pager.page(lo, hi, offset, limit) == _plain(pager, lo, hi, offset, limit), (lo, offset, limit)
                checked += 1
    assert checked >= 250  # the sample is not empty by accident
    # (version, total, count, records): the version is the table's, read with the page
    assert pager.page(*WINDOWS[0], 0, 5)[0] == _version(retailer_databases[code], code)


@pytest.mark.parametrize("code", CODES)
def test_concurrent_requests_equal_the_plain_query(code, pagers):
    pager = pagers[code]
    pager.clear()
    lo, hi = WINDOWS[1]
    total = _plain(pager, lo, hi, 0, 1)[1]  # (version, total, count, records)
    cases = [(offset, limit) for limit in (3, 40) for offset in range(0, total + 2, 5)]
    expected = [_plain(pager, lo, hi, o, n) for o, n in cases]
    with ThreadPoolExecutor(8) as threads:
        got = list(threads.map(lambda case: pager.page(lo, hi, *case), cases))
    assert got == expected


@pytest.mark.parametrize("code", CODES)
def test_version_bumps_on_copy_update_delete_and_truncate(code, retailer_databases):
    from tests.fixtures.retailers import truncate_retailers

    dsn, s = retailer_databases[code], RETAILERS[code]
    before = _version(dsn, code)
    _seed(retailer_databases, 30, 4)  # truncate, COPY, UPDATE
    after_seed = _version(dsn, code)
    assert after_seed > before
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM {s.table} WHERE {s.id_column} = 'no such id'")  # even 0 rows
    assert _version(dsn, code) > after_seed
    after_delete = _version(dsn, code)
    truncate_retailers(retailer_databases, [code])
    assert _version(dsn, code) > after_delete


def _api_page(code: str, api: dict, offset: int, size: int):
    if code == "retailer_1":
        return request(code, api, "2024-01-14", DAY, page=offset // size + 1, page_size=size)
    return request(code, api, "2024-01-14", DAY, offset=offset, limit=size)


def _expected_body(code: str, dsn: str, offset: int, size: int) -> bytes:
    """The body the API answered before the index existed: plain OFFSET SQL + the envelope."""
    module = APPS[code]
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(module.PLAIN_SQL.format(version=module.VERSION_SQL),
                    {"lo": dt.date(2024, 1, 14), "hi": dt.date(2024, 1, 16), "offset": offset, "limit": size})
        _version, total, count, data = cur.fetchone()
    if code == "retailer_1":
        return module.envelope(offset // size + 1, size, total, count, data).encode()
    return module.envelope(offset, total, count, data).encode()


@pytest.mark.parametrize("code", CODES)
def test_api_bytes_equal_the_plain_query_and_a_reseed_between_pages_is_seen(code, retailer_apis, retailer_databases):
    api, dsn = retailer_apis[code], retailer_databases[code]
    _seed(retailer_databases, 150, 21)
    for size in (7, 40, 1000):
        for offset in (0, size, 3 * size, 280, 600):
            offset = offset // size * size
            response = _api_page(code, api, offset, size)
            assert response.status_code == 200
            assert response.content == _expected_body(code, dsn, offset, size), (offset, size)
            assert response.headers["X-Data-Version"] == str(_version(dsn, code))
    first = _api_page(code, api, 40, 40)
    # Reseed between two page requests: other rows, other total; the next page must show them.
    _seed(retailer_databases, 90, 22)
    second = _api_page(code, api, 40, 40)
    assert second.content == _expected_body(code, dsn, 40, 40) and second.content != first.content
    assert int(second.headers["X-Data-Version"]) > int(first.headers["X-Data-Version"])
    assert second.json()["total"] < first.json()["total"]
    # An update in place (same total) is seen too.
    s = RETAILERS[code]
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute(f'UPDATE {s.table} SET "{s.ts_column}" = "{s.ts_column}" - interval \'1 second\' '
                    f"WHERE {s.id_column} LIKE %s", (f"{s.id_prefix}-20240115-%",))
    assert _api_page(code, api, 40, 40).content == _expected_body(code, dsn, 40, 40)
    from tests.fixtures.retailers import truncate_retailers

    truncate_retailers(retailer_databases, [code])
    body = _api_page(code, api, 0, 40).json()
    assert body["total"] == 0 and body["count"] == 0
