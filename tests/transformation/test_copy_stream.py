"""The bulk COPY streams its CSV batch by batch (issue 11: encoding a day's facts whole before
sending them kept the server idle for a third of the COPY): whatever the batch size, the server
receives exactly the frame, NULLs, quotes, separators, line breaks and non-ASCII text included."""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pandas as pd
import psycopg2
import pytest
from psycopg2 import sql

from retail_pipeline.warehouse import pgcopy

TEXTS = ["plain", 'a "quoted", text', "two\nlines", "", None, "Ünïcödé €", "comma,semi;tab\t", "\\N"]


def _frame(n: int) -> pd.DataFrame:
    i = np.arange(n)
    return pd.DataFrame({
        "id": i.astype("int64"),
        "label": [TEXTS[k % len(TEXTS)] for k in range(n)],
        "amount": np.where(i % 5 == 0, np.nan, i * 0.25),
    })


def _copied(dsn: str, frame: pd.DataFrame) -> list[tuple]:
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE t (id bigint, label text, amount numeric(12,2))")
        pgcopy.copy_frame(cur, sql.Identifier("t"), frame, ["id", "label", "amount"])
        cur.execute("SELECT id, label, amount::float8 FROM t ORDER BY id")
        return cur.fetchall()


def _expected(frame: pd.DataFrame) -> list[tuple]:
    # pyarrow writes an empty string as "" (quoted), a missing one as nothing: '' stays '', None is NULL
    return [(int(r.id), None if pd.isna(r.label) else r.label, None if pd.isna(r.amount) else float(r.amount)) for r in frame.itertuples()]


@pytest.mark.parametrize("batch_rows", [1, 3, 1000])
def test_a_frame_copied_in_batches_arrives_exactly(warehouse, monkeypatch, batch_rows):
    monkeypatch.setattr(pgcopy, "BATCH_ROWS", batch_rows)
    frame = _frame(41)
    assert _copied(warehouse.dsn, frame) == _expected(frame)


def test_the_csv_is_encoded_while_the_server_reads_it(monkeypatch):
    """The stream encodes a batch only when the COPY asks for more: never the whole frame first."""
    monkeypatch.setattr(pgcopy, "BATCH_ROWS", 10)
    encoded: list[int] = []
    real = pgcopy._encode

    def spy(batch):
        encoded.append(batch.num_rows)
        return real(batch)

    monkeypatch.setattr(pgcopy, "_encode", spy)
    stream = pgcopy.CsvStream(_frame(35))
    first = stream.read(1 << 20)
    assert first and encoded == [10]
    rest = b"".join(iter(lambda: stream.read(1 << 20), b""))
    assert encoded == [10, 10, 10, 5]
    assert (first + rest).count(b"\n") >= 35
