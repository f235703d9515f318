"""The BI role reads and creates nothing, temporary tables included, in a warehouse migrated
the way `make up` migrates it (a fresh database, not a template copy: CREATE DATABASE ...
TEMPLATE does not copy database privileges)."""

from __future__ import annotations

import secrets
import uuid
from contextlib import closing

import psycopg2
import pytest

from retail_pipeline.warehouse.migrate import apply_migrations
from tests.fixtures.warehouse import LOADER, READER


@pytest.fixture
def migrated(pg_server, loader_password):
    dbname = f"wh_roles_{uuid.uuid4().hex[:8]}"
    pg_server.ensure_database(dbname, owner=LOADER)
    try:
        apply_migrations(pg_server.url(dbname, LOADER, loader_password))
        yield dbname
    finally:
        pg_server.drop_database(dbname)


def connect(pg_server, dbname: str, role: str, password: str):
    conn = psycopg2.connect(pg_server.dsn(dbname, role, password))
    conn.autocommit = True
    return conn


@pytest.mark.parametrize("statement", [
    "CREATE TEMP TABLE scratch (n int)",
    "CREATE TEMP VIEW scratch AS SELECT 1",
    "CREATE TABLE public.scratch (n int)",
    "CREATE SCHEMA scratch",
])
def test_bi_reader_cannot_create_anything(pg_server, migrated, statement):
    password = secrets.token_hex(8)
    pg_server.ensure_role(READER, password)
    with closing(connect(pg_server, migrated, READER, password)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM fact_sales")   # it can read
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(statement)


def test_the_loader_keeps_its_temporary_tables(pg_server, migrated, loader_password):
    with closing(connect(pg_server, migrated, LOADER, loader_password)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE scratch (n int)")
        cur.execute("SELECT has_database_privilege('bi_reader', current_database(), 'TEMP')")
        assert cur.fetchone() == (False,)
