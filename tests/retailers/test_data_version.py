"""The data-version extension (retailers/README.md): every data response of the three APIs
carries `X-Data-Version`, the table's version read in the same statement as the page; bodies
are unchanged; an old database without the version table is still served, without the header."""

from __future__ import annotations

from contextlib import closing

import psycopg2
import pytest

from retailers.common.registry import RETAILERS
from tests.retailers.client import KEY_CODES, RECORDS, auth_headers, request

CODES = KEY_CODES  # retailer 4's version (orders and lines): test_retailer_4_api.py
START, END = "2024-02-01", "2024-02-02"


def _version(dsn: str, code: str) -> int:
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT version FROM {RETAILERS[code].table}_version")
        return cur.fetchone()[0]


def _paged(code: str, api: dict, number: int, size: int):
    """Page `number` (from 0) in the retailer's own paging; the cursor is walked to."""
    if code == "retailer_1":
        return request(code, api, START, END, page=number + 1, page_size=size)
    if code == "retailer_2":
        return request(code, api, START, END, offset=number * size, limit=size)
    cursor, response = None, None
    for _ in range(number + 1):
        response = request(code, api, START, END, limit=size, **({"cursor": cursor} if cursor else {}))
        cursor = response.json()["next_cursor"]
    return response


@pytest.mark.parametrize("code", CODES)
def test_every_page_carries_the_tables_version_and_a_write_moves_it(code, retailer_apis, seed_retailers):
    seed_retailers(START, END, rows_per_day=30, retailers=[code])
    api, dsn = retailer_apis[code], retailer_apis[code]["dsn"]
    version = str(_version(dsn, code))
    pages = [_paged(code, api, n, 7) for n in range(3)]
    assert [p.headers.get("X-Data-Version") for p in pages] == [version] * 3
    unpaged = request(code, api, START, END)
    assert unpaged.headers["X-Data-Version"] == version
    # A statement that changes nothing still commits a new version (statement-level trigger):
    # a client comparing versions sees a possible change, never misses one.
    s = RETAILERS[code]
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute(f"UPDATE {s.table} SET {s.id_column} = {s.id_column} WHERE false")
    again = request(code, api, START, END)
    assert int(again.headers["X-Data-Version"]) > int(version)
    assert again.content == unpaged.content  # the body is what it always was


@pytest.fixture(scope="module")
def unversioned(pg_server):
    """Databases as made before the extension existed: no `<table>_version`, no trigger."""
    from retailers.generator import seed

    dsns = {}
    for code in CODES:
        spec = RETAILERS[code]
        name = f"{spec.db_name}_unversioned"
        pg_server.drop_database(name)
        pg_server.ensure_database(name)
        dsns[code] = pg_server.dsn(name)
    seed(dsns, START, END, 12, 0.0, 0.0, 5, "2030-01-01", CODES)  # applies the schema, version included
    for code in CODES:
        spec = RETAILERS[code]
        with closing(psycopg2.connect(dsns[code])) as conn, conn, conn.cursor() as cur:
            cur.execute(f"DROP FUNCTION {spec.table}_version_bump() CASCADE; DROP TABLE {spec.table}_version")
    yield dsns
    for code in CODES:
        pg_server.drop_database(f"{RETAILERS[code].db_name}_unversioned")


@pytest.mark.parametrize("code", CODES)
def test_without_the_version_table_pages_are_served_without_the_header(code, unversioned):
    import importlib

    app = importlib.import_module(f"retailers.{code}.app").create_app(unversioned[code], "k")
    client = app.test_client()
    headers = auth_headers(code, "k")
    if code == "retailer_1":
        response = client.get("/sales", query_string={"start_date": START, "end_date": END, "page_size": 5},
                              headers=headers)
    elif code == "retailer_2":
        response = client.get("/transactions", query_string={"from": START, "to": END, "limit": 5}, headers=headers)
    else:
        response = client.post("/sales/query", json={"dateFrom": START, "dateTo": END, "limit": 5}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "X-Data-Version" not in response.headers
    assert len(response.get_json()[RECORDS[code]]) == 5
    app.extensions["pool"].close()
