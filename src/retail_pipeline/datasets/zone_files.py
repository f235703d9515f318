"""Files of the raw zone: the Arrow schemas of its JSON Lines, writing and reading them, and
the S3 client options (timeouts, bounded retries) of `RawZoneDataset`."""

from __future__ import annotations

import errno
import io
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
from kedro.io.core import DatasetError

from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS

S3_PROTOCOLS = ("s3", "s3a")
DEFAULT_TIMEOUTS = {"connect_seconds": 5.0, "read_seconds": 60.0, "attempts": 3}

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
    con.register("part", part)
    try:
        escaped = target.replace("'", "''")
        con.execute(f"COPY (SELECT * FROM part) TO '{escaped}' (FORMAT JSON)")
    finally:
        con.unregister("part")


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
