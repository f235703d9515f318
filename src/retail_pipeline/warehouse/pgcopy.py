"""Connection strings and bulk COPY of DataFrames (pyarrow writes the CSV)."""

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


def frame_to_csv(frame: pd.DataFrame) -> io.BytesIO:
    """A frame as CSV bytes written by pyarrow (NaN/None -> empty unquoted = NULL; strings quoted)."""
    buffer = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False, batch_size=65536))
    buffer.seek(0)
    return buffer


def copy_frame(cur, table: sql.Composable, frame: pd.DataFrame, columns: list[str]) -> None:
    """COPY `frame[columns]` into `table` through an in-memory CSV."""
    if frame.empty:
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns)))
    cur.copy_expert(statement, frame_to_csv(frame[columns]), size=1 << 20)
