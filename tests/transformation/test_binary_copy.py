"""The facts go to the server as binary COPY (issue 11: the server parsed every number and
timestamp of the CSV, half the COPY's CPU): the day table then holds exactly what the CSV COPY
put there, NULLs, big and small amounts, fractional seconds and any text included, and an
amount with more than two decimals is refused, never rounded."""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pandas as pd
import psycopg2
import pytest
from psycopg2 import sql

from retail_pipeline.warehouse import pgbinary, pgcopy
from retail_pipeline.warehouse.days import FACT_COPY_COLUMNS, FACT_COPY_TYPES

TABLE = """CREATE TEMP TABLE {} (sale_id bigint, date_id integer, product_id bigint, customer_id bigint,
    store_id bigint, retailer_id smallint, transaction_id text, quantity integer, unit_price numeric(12,2),
    total_amount numeric(14,2), discount_percentage numeric(5,2), tax_amount numeric(12,2),
    shipping_cost numeric(12,2), transaction_ts timestamptz)"""


def _facts(n: int = 23) -> pd.DataFrame:
    i = np.arange(n)
    texts = ["T-1", "Ünïcödé-€", 'quote"and,comma', "line\nbreak", "x" * 64, "\\N", ""]
    return pd.DataFrame({
        "sale_id": (i * 7_919_000_000_003) % (2**63 - 1), "date_id": 20240115 + 0 * i, "product_id": i * 3,
        "customer_id": 2**62 + i, "store_id": i, "retailer_id": 1 + i % 3,
        "transaction_id": [texts[k % len(texts)] + str(k) for k in range(n)],
        "quantity": 1 + i % 10_000,
        "unit_price": np.where(i % 4 == 0, 1_000_000.0, np.round(0.01 + i * 1.37, 2)),
        "total_amount": np.where(i % 5 == 0, 10_000_000_000.0, np.round(0.01 + i * 12.35, 2)),
        "discount_percentage": np.where(i % 3 == 0, np.nan, np.where(i % 2, 100.0, 0.0)),
        "tax_amount": np.where(i % 2 == 0, np.nan, 0.05 * (i % 7)).round(2),
        "shipping_cost": np.where(i % 6 == 0, 0.0, np.nan),
        "transaction_ts": [f"2024-01-15T{k % 24:02d}:{k % 60:02d}:0{k % 10}" + (".123456Z" if k % 2 else "Z")
                           for k in range(n)],
    })


def _rows(cur, table: str) -> list[tuple]:
    cur.execute(sql.SQL("SELECT * FROM {} ORDER BY sale_id").format(sql.Identifier(table)))
    return cur.fetchall()


@pytest.mark.parametrize("batch_rows", [1, 4, 1000])
def test_binary_copy_holds_what_csv_copy_holds(warehouse, monkeypatch, batch_rows):
    monkeypatch.setattr(pgbinary, "BATCH_ROWS", batch_rows)
    facts = _facts()
    with closing(psycopg2.connect(warehouse.dsn)) as conn, conn.cursor() as cur:
        for name in ("by_csv", "by_binary"):
            cur.execute(sql.SQL(TABLE).format(sql.Identifier(name)))
        pgcopy.copy_frame(cur, sql.Identifier("by_csv"), facts, FACT_COPY_COLUMNS)
        pgbinary.copy_binary(cur, sql.Identifier("by_binary"), facts, FACT_COPY_COLUMNS, FACT_COPY_TYPES)
        by_csv, by_binary = _rows(cur, "by_csv"), _rows(cur, "by_binary")
    assert len(by_binary) == len(facts)
    assert by_binary == by_csv


def test_text_of_concatenated_frames_arrives_exactly(warehouse):
    """A column of several frames concatenated is held in several Arrow chunks."""
    facts = _facts()
    joined = pd.concat([facts.iloc[:10], facts.iloc[10:]], ignore_index=True)
    with closing(psycopg2.connect(warehouse.dsn)) as conn, conn.cursor() as cur:
        for name in ("by_csv", "by_binary"):
            cur.execute(sql.SQL(TABLE).format(sql.Identifier(name)))
        pgcopy.copy_frame(cur, sql.Identifier("by_csv"), facts, FACT_COPY_COLUMNS)
        pgbinary.copy_binary(cur, sql.Identifier("by_binary"), joined, FACT_COPY_COLUMNS, FACT_COPY_TYPES)
        assert _rows(cur, "by_binary") == _rows(cur, "by_csv")


def _encoders() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "copy-encode"]


def test_an_amount_with_more_than_two_decimals_is_refused_not_rounded(warehouse, monkeypatch):
    # The batches are encoded in a thread ahead of the COPY: the refusal of the fifth batch,
    # after four were sent, still reaches the caller as the reason, and nothing keeps running.
    monkeypatch.setattr(pgbinary, "BATCH_ROWS", 4)
    facts = _facts(40)
    facts.loc[17, "total_amount"] = 3.141
    with closing(psycopg2.connect(warehouse.dsn)) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
        with pytest.raises(ValueError, match="total_amount: 3.141 is not a number of cents"):
            pgbinary.copy_binary(cur, sql.Identifier("t"), facts, FACT_COPY_COLUMNS, FACT_COPY_TYPES)
    assert not _encoders()


def test_a_copy_the_server_refuses_midway_stops_its_encoding_thread(warehouse, monkeypatch):
    # A row the table's CHECK refuses: the server ends the COPY while batches are still being
    # encoded ahead; the server's error is raised and the encoding thread is stopped, not left
    # blocked on its full queue.
    monkeypatch.setattr(pgbinary, "BATCH_ROWS", 2)
    facts = _facts(400)
    facts.loc[5, "quantity"] = -1
    with closing(psycopg2.connect(warehouse.dsn)) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
        cur.execute("ALTER TABLE t ADD CHECK (quantity > 0)")
        with pytest.raises(psycopg2.errors.CheckViolation):
            pgbinary.copy_binary(cur, sql.Identifier("t"), facts, FACT_COPY_COLUMNS, FACT_COPY_TYPES)
    assert not _encoders()


def test_closing_a_stream_read_halfway_stops_its_encoding_thread(monkeypatch):
    monkeypatch.setattr(pgbinary, "BATCH_ROWS", 2)
    stream = pgbinary.BinaryStream(_facts(400), FACT_COPY_COLUMNS, FACT_COPY_TYPES)
    assert stream.read(100) and _encoders()  # encoding ahead, its queue full
    stream.close()
    assert not _encoders()  # `stream` is still referenced: close() stopped it, not the collector
