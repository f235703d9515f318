"""Files of the raw zone: the Arrow schemas of its JSON Lines, writing and reading them, and
the S3 client options (timeouts, bounded retries) of `RawZoneDataset`."""

from __future__ import annotations

import errno
import io
import os
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
from kedro.io.core import DatasetError

from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS

S3_PROTOCOLS = ("s3", "s3a")
DEFAULT_TIMEOUTS = {"connect_seconds": 5.0, "read_seconds": 60.0, "attempts": 3}
# Rows DuckDB renders as JSON text per batch while a part is written (~1.7 MB of text at ~850
# bytes a record). Small enough that each batch reuses the heap the last one freed: batches of
# 16,384 (~14 MB) were mapped afresh each time, 11% of ingestion's page faults.
JSON_BATCH_ROWS = 2_048

CANONICAL_ARROW = pa.schema(
    [
        (name, pa.int64() if name in ("quantity", "source_page")
         else pa.float64() if name in ("unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost")
         else pa.string())
        for name in CANONICAL_COLUMNS
    ]
)
QUARANTINE_ARROW = pa.schema(
    [*(CANONICAL_ARROW.field(i) for i in range(len(CANONICAL_ARROW))), ("reasons", pa.list_(pa.string()))]
)
SCHEMAS = {"raw": CANONICAL_ARROW, "quarantine": QUARANTINE_ARROW}


def to_arrow(data: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table, column by column (text columns zero-copy; NaN as null)."""
    arrays, names = [], []
    for name in data.columns:
        column = data[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype("str")
        arrays.append(pa.array(column, from_pandas=True))  # Arrow-backed columns: no copy
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names)


def write_jsonl(con: duckdb.DuckDBPyConnection, part: pa.Table, target: str) -> None:
    """`part`'s rows appended to `target` as JSON Lines (created if absent), byte for byte what
    DuckDB's COPY ... (FORMAT JSON) writes. The text goes straight onto the day's file: COPY
    cannot append, and a scratch file copied onto it passed every byte through the page cache
    twice. Handed over JSON_BATCH_ROWS rows at a time, so memory holds ~2 MB of text.

    The file's earlier parts then leave the page cache (`_uncache`): nothing here reads them
    again, and a 10,000,000-row day (8.5 GB) kept there takes fresh memory for every page."""
    con.register("part", part)
    try:
        lines = con.sql("SELECT to_json(p) || chr(10) FROM part AS p").to_arrow_reader(JSON_BATCH_ROWS)
        with open(target, "ab") as out:
            before = out.tell()
            for batch in lines:
                out.write(_text(batch.column(0)))
            _uncache(out.fileno(), before)
    finally:
        con.unregister("part")


def _uncache(fd: int, length: int) -> None:
    """The first `length` bytes of the file out of the page cache, without waiting: Linux starts
    writing back the range's dirty pages and drops its clean ones (those the last call started),
    so the cache holds a part or two of a growing file, not all of it. Where free memory goes
    back to a VM's host, as on the bench machine, each fresh page is a host fault: appends got
    up to 2x slower after ~5 GB (docs/benchmarks.md). The commit's fsync then finds the file
    mostly written. A no-op without posix_fadvise (macOS)."""
    if length and hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, length, os.POSIX_FADV_DONTNEED)


def _text(lines: pa.Array) -> memoryview:
    """The concatenated values of a text array without nulls: its data buffer between the first
    and the last offset."""
    wide = pa.types.is_large_string(lines.type)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64 if wide else np.int32,
                            count=len(lines) + 1, offset=lines.offset * (8 if wide else 4))
    return memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]] if len(lines) else memoryview(b"")


def disk_full(exc: BaseException) -> bool:
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "no space left on device" in str(exc).lower()


def timeout_hint(exc: BaseException, timeouts: dict[str, Any]) -> str:
    """What to do when the store did not answer in time ('' for other failures)."""
    text = f"{type(exc).__name__} {exc}".lower()
    if "timeout" not in text and "timed out" not in text:
        return ""
    return (f"The storage endpoint did not answer within {float(timeouts['read_seconds']):g} s "
            f"({int(timeouts['attempts'])} attempts; RawZoneDataset timeouts): check that it is up, then rerun.")


def read_jsonl(content: bytes, schema: pa.Schema) -> pa.Table:
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    return pa_json.read_json(io.BytesIO(content), parse_options=options,
                             read_options=pa_json.ReadOptions(block_size=16 << 20))


def s3_options(protocol: str, options: dict[str, Any], timeouts: dict[str, Any] | None) -> tuple[dict, dict]:
    """(storage options, timeouts): on S3, botocore's connect/read timeouts and a bounded
    number of attempts (`standard` retry mode) under the catalog's own `config_kwargs`."""
    unknown = set(timeouts or {}) - set(DEFAULT_TIMEOUTS)
    if unknown:
        raise DatasetError(f"RawZoneDataset timeouts: unknown option(s) {', '.join(sorted(unknown))}; "
                           f"known: {', '.join(DEFAULT_TIMEOUTS)}")
    timeouts = {**DEFAULT_TIMEOUTS, **(timeouts or {})}
    if protocol not in S3_PROTOCOLS:
        return options, timeouts
    config = {"connect_timeout": float(timeouts["connect_seconds"]), "read_timeout": float(timeouts["read_seconds"]),
              "retries": {"max_attempts": max(1, int(timeouts["attempts"])), "mode": "standard"},
              **(options.get("config_kwargs") or {})}
    return {**options, "config_kwargs": config}, timeouts
