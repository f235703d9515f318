"""The retailer APIs' connection pool (retailers/common/db.py) against a real PostgreSQL.

A new PostgreSQL connection is a new backend process with cold caches: opening one per request
cost the servers more CPU than the queries of small pages. Connections are kept for the next
request; one that broke is dropped with every idle one (the server restarted: they all broke),
so the API answers 503 once and then recovers by itself.
"""

from __future__ import annotations

import time
from contextlib import closing

import psycopg2
import pytest

from retailers.common.db import DatabaseUnavailable, Pool


@pytest.fixture
def dsn(pg_server):
    pg_server.ensure_database("retailer_pool_test")
    return pg_server.dsn("retailer_pool_test")


def _backend(pool: Pool) -> int:
    with pool.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def test_a_connection_serves_the_next_request(dsn):
    pool = Pool(dsn, maxconn=4)
    try:
        assert len({_backend(pool) for _ in range(5)}) == 1
    finally:
        pool.close()


def test_concurrent_requests_get_their_own_connections(dsn):
    pool = Pool(dsn, maxconn=4)
    try:
        with pool.cursor() as a, pool.cursor() as b:
            a.execute("SELECT pg_backend_pid()")
            b.execute("SELECT pg_backend_pid()")
            assert a.fetchone()[0] != b.fetchone()[0]
        assert _backend(pool) in _backends(dsn)
    finally:
        pool.close()


def _backends(dsn: str) -> set[int]:
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'retailer-api' "
                    "AND datname = current_database()")
        return {row[0] for row in cur.fetchall()}


def test_killed_connections_give_one_503_then_fresh_connections(dsn):
    pool = Pool(dsn, maxconn=4)
    try:
        with pool.cursor() as a, pool.cursor() as b:  # two idle connections afterwards
            a.execute("SELECT 1")
            b.execute("SELECT 1")
        killed = _backends(dsn)
        assert len(killed) == 2
        with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (list(killed),))
        with pytest.raises(DatabaseUnavailable):
            _backend(pool)
        assert _backend(pool) not in killed  # the other idle one was dropped too
    finally:
        pool.close()


def test_a_closed_pool_keeps_no_connection(dsn):
    pool = Pool(dsn, maxconn=4)
    _backend(pool)
    pool.close()
    for _ in range(50):  # a closed connection's backend exits a moment later
        if not _backends(dsn):
            break
        time.sleep(0.1)
    assert _backends(dsn) == set()
