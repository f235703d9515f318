"""Retailer 4 for the simulator's own tests: a database of its own and its real app served by
waitress on a free loopback port (small pages, so paging is exercised on small days)."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from contextlib import closing
from pathlib import Path

import pandas as pd
import psycopg2
import pytest

from retailers.common.db import init_db
from tests.retailers.client import free_port

R4_CLIENT = {"client_id": "test-r4-client", "client_secret": "test-r4-secret:+/ x"}
R4_PAGE_SIZE = 7
# Seeded days: both 2024 DST changes in Europe/Paris with a day either side.
R4_DAYS = [dt.date(2024, 3, 30) + dt.timedelta(days=i) for i in range(3)] + \
          [dt.date(2024, 10, 26) + dt.timedelta(days=i) for i in range(3)]
R4_SEED = dict(rows_per_day=45, bad_fraction=0.25, late_fraction=0.1, seed=11, as_of="2024-06-01")


def r4_query(dsn: str, sql: str, params=None) -> list[tuple]:
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture(scope="session")
def r4_database(pg_server) -> str:
    name = "retailer4_simulator_tests"
    pg_server.drop_database(name)
    pg_server.ensure_database(name)
    dsn = pg_server.dsn(name)
    init_db("retailer_4", dsn)
    return dsn


@pytest.fixture(scope="session")
def r4_api(r4_database):
    from retailers.launch import start_api

    logs = Path(tempfile.mkdtemp(prefix="retailer4-api-"))
    api = start_api("retailer_4", "retailer_4", free_port(), r4_database, logs / "retailer_4.log",
                    secrets=R4_CLIENT, settings={"page_size": R4_PAGE_SIZE})
    try:
        yield {"base_url": api.base_url, "dsn": r4_database, **R4_CLIENT, "process": api}
    finally:
        api.stop()
        shutil.rmtree(logs, ignore_errors=True)


@pytest.fixture
def r4_seeded(r4_api) -> pd.DataFrame:
    """R4_DAYS seeded (bad, late and future lines), re-seeded for each test that asks; returns
    the generator's frames of those days (what the database holds)."""
    from retailers.generator import generate, seed

    r4_query(r4_api["dsn"], "TRUNCATE orders")
    frames = []
    for first in (R4_DAYS[0], R4_DAYS[3]):
        seed({"retailer_4": r4_api["dsn"]}, first, first + dt.timedelta(days=2), **R4_SEED)
    for day in R4_DAYS:
        frames.append(generate("retailer_4", day, R4_SEED["rows_per_day"], R4_SEED["bad_fraction"],
                               R4_SEED["late_fraction"], R4_SEED["seed"], R4_SEED["as_of"]))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def r4_faults(r4_api):
    """Callable `r4_faults(**knobs)`; every knob cleared after the test."""
    import requests

    def _set(**knobs):
        response = requests.post(r4_api["base_url"] + "/_admin/faults", json=knobs, timeout=5)
        response.raise_for_status()
        return response.json()

    yield _set
    requests.delete(r4_api["base_url"] + "/_admin/faults", timeout=5)
