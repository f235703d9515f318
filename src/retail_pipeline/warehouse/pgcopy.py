"""Connection strings and bulk COPY of DataFrames (pyarrow writes the CSV, streamed in batches)."""

from __future__ import annotations

import io
import re

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg2 import sql


def to_dsn(con: str) -> str:
    """A libpq URL from a SQLAlchemy one (`postgresql+psycopg2://` -> `postgresql://`)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", con)


def mask(con: str) -> str:
    """The URL with its password hidden, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", con)


BATCH_ROWS = 65536  # rows encoded at a time: the server parses one batch while the next is encoded


def _encode(batch: pa.RecordBatch) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(batch, sink, write_options=pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


class CsvStream(io.RawIOBase):
    """A frame as CSV written by pyarrow (NaN/None -> empty unquoted = NULL; strings quoted),
    encoded batch by batch as the COPY reads it, so the server parses a batch while the next is
    encoded (the two overlap on two cores) instead of waiting for the whole frame."""

    def __init__(self, frame: pd.DataFrame):
        super().__init__()
        self._frame, self._at = frame, 0
        self._pending, self._offset = memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """At most `size` bytes: the rest of the batch encoded last, else the next batch (b"" at the end)."""
        if self._offset == len(self._pending) and self._at < len(self._frame):
            part = self._frame.iloc[self._at:self._at + BATCH_ROWS]
            self._at += len(part)
            table = pa.Table.from_pandas(part, preserve_index=False)
            self._pending, self._offset = memoryview(b"".join(_encode(b) for b in table.to_batches())), 0
        end = len(self._pending) if size is None or size < 0 else min(len(self._pending), self._offset + size)
        out = bytes(self._pending[self._offset:end])
        self._offset = end
        return out


def frame_to_csv(frame: pd.DataFrame) -> io.BytesIO:
    """A frame as CSV bytes, whole (what CsvStream streams)."""
    stream = CsvStream(frame)
    return io.BytesIO(b"".join(iter(lambda: stream.read(1 << 24), b"")))


def copy_frame(cur, table: sql.Composable, frame: pd.DataFrame, columns: list[str]) -> None:
    """COPY `frame[columns]` into `table`, its CSV streamed (CsvStream)."""
    if frame.empty:
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns)))
    cur.copy_expert(statement, CsvStream(frame[columns]), size=1 << 20)
