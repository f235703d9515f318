"""`RawZoneDataset`: a retailer's window of day partitions in the raw (or quarantine) zone.

Layout (docs/contracts.md), on the local filesystem or any fsspec URL (s3://bucket/...):

    {root}/{zone}/{retailer}/year=YYYY/month=MM/day=DD/sales_data.json     (JSON Lines)

`save(df)` writes one file per day of the window from the rows' `sale_date`, replacing each
file whole and atomically: locally a temp file in the same folder then `os.replace`; on S3 the
object only appears when its upload completes (one PUT, or a multipart upload that becomes
visible at completion). A window day without rows has its file removed, so a rerun of the
window leaves exactly the records of this extraction and never a duplicate. Rows dated outside
the window are refused (the window's days are the only partitions this run may replace).

`load()` returns the window's records as one DataFrame (in day order, then file order); for
the raw zone with the canonical columns and dtypes (str, int64 quantity and source_page,
float64 money), for the quarantine zone with `reasons` as lists.

JSON Lines are written by DuckDB from the DataFrame as an Arrow table (text columns shared with
the frame, not copied; UTF-8, nulls as `null`), read back with pyarrow's JSON reader.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import uuid
from pathlib import PurePosixPath
from typing import Any

import duckdb
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from retail_pipeline.run_window import parse_run_date, window_dates
from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS

log = logging.getLogger(__name__)

_CANONICAL_ARROW = pa.schema(
    [
        (name, pa.int64() if name in ("quantity", "source_page")
         else pa.float64() if name in ("unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost")
         else pa.string())
        for name in CANONICAL_COLUMNS
    ]
)
_QUARANTINE_ARROW = pa.schema(
    [*(_CANONICAL_ARROW.field(i) for i in range(len(_CANONICAL_ARROW))), ("reasons", pa.list_(pa.string()))]
)
_SCHEMAS = {"raw": _CANONICAL_ARROW, "quarantine": _QUARANTINE_ARROW}


def _to_arrow(data: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table, column by column (text columns zero-copy; NaN as null)."""
    arrays, names = [], []
    for name in data.columns:
        column = data[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype("str")
        arrays.append(pa.array(column, from_pandas=True))  # Arrow-backed columns: no copy
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names)


class RawZoneDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Day-partitioned JSON Lines of one retailer, for the run's window.

    Example (catalog):

        "{retailer}.raw_sales":
          type: retail_pipeline.datasets.raw_zone.RawZoneDataset
          root: ${globals:raw_zone}            # data/01_raw or s3://bucket
          zone: raw                            # or quarantine
          retailer: "{retailer}"
          window_start: ${window_start:...}
          window_end: ${run_date:...}
          credentials: raw_zone                # s3fs options in env s3/docker; {} locally
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        root: str,
        zone: str,
        retailer: str,
        window_start: str,
        window_end: str,
        filename: str = "sales_data.json",
        date_column: str = "sale_date",
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        duckdb_threads: int = 1,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not root:
            raise DatasetError("RawZoneDataset needs a root (globals raw_zone)")
        self._protocol, root_path = get_protocol_and_path(str(root).rstrip("/"))
        self._root = root_path
        self._zone = zone
        self._retailer = retailer
        self._days = window_dates(parse_run_date(window_start), parse_run_date(window_end))
        self._filename = filename
        self._date_column = date_column
        self._storage_options = {**(credentials or {}), **(fs_args or {})}
        self._fs = fsspec.filesystem(self._protocol, **self._storage_options)
        self._local = self._protocol == "file"
        # One thread: DuckDB's ordered parallel COPY buffers the output (1M records took 1.5 GB
        # more and was slower on two cores); a single writer streams it.
        self._threads = duckdb_threads
        self.metadata = metadata

    # -- paths ---------------------------------------------------------------------------------
    def day_path(self, day) -> str:
        return str(PurePosixPath(self._root, self._zone, self._retailer,
                                 f"year={day.year:04d}", f"month={day.month:02d}", f"day={day.day:02d}",
                                 self._filename))

    def _display(self, path: str) -> str:
        return path if self._local else f"{self._protocol}://{path}"

    def _describe(self) -> dict[str, Any]:
        return {
            "root": self._display(self._root),
            "zone": self._zone,
            "retailer": self._retailer,
            "window": [self._days[0].isoformat(), self._days[-1].isoformat()],
        }

    def _exists(self) -> bool:
        return any(self._fs.exists(self.day_path(day)) for day in self._days)

    # -- save ----------------------------------------------------------------------------------
    def save(self, data: pd.DataFrame) -> None:
        if self._date_column not in data.columns:
            raise DatasetError(f"{self._retailer} {self._zone}: rows have no {self._date_column!r} column")
        days = {day.isoformat(): day for day in self._days}
        dates = data[self._date_column]
        outside = sorted(set(dates[~dates.isin(list(days))].astype(str)))
        if outside:
            raise DatasetError(
                f"{self._retailer} {self._zone}: rows dated {', '.join(outside[:5])} are outside the "
                f"window {self._days[0]}..{self._days[-1]}; only the window's partitions may be replaced"
            )
        positions = data.groupby(dates, sort=False).indices if len(data) else {}
        del dates
        # DuckDB writes from an Arrow table: the frame's Arrow-backed text columns are shared,
        # not converted to Python objects, so writing costs little memory beyond the frame.
        table = _to_arrow(data) if len(data) else None
        con = duckdb.connect(config={"threads": self._threads})
        try:
            for key, day in days.items():
                path = self.day_path(day)
                rows = positions.get(key)
                if rows is None or len(rows) == 0:
                    self._remove(path)
                    continue
                part = table.take(pa.array(rows)) if len(rows) != len(data) else table
                self._write(con, part, path)
                del part
        finally:
            con.close()
            del table
            pa.default_memory_pool().release_unused()  # the allocator would keep it otherwise
        log.info("%s: wrote %d %s records over %d day(s) under %s", self._retailer, len(data), self._zone,
                 len(days), self._display(str(PurePosixPath(self._root, self._zone, self._retailer))))

    def _remove(self, path: str) -> None:
        if self._fs.exists(path):
            self._fs.rm(path)
            log.info("%s: removed %s (no rows for that day any more)", self._retailer, self._display(path))

    def _write(self, con: duckdb.DuckDBPyConnection, part: pa.Table, path: str) -> None:
        if self._local:
            folder = os.path.dirname(path)
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, f".{self._filename}.{uuid.uuid4().hex}.tmp")
            try:
                self._jsonl(con, part, tmp)
                os.replace(tmp, path)  # readers see the old file or the new one, never half
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
            return
        handle, tmp = tempfile.mkstemp(prefix="raw_zone_", suffix=".json")
        os.close(handle)
        try:
            self._jsonl(con, part, tmp)
            # One object upload: a PUT (or a multipart upload that becomes visible only when
            # complete), so readers never see a partial partition.
            self._fs.put_file(tmp, path)
        finally:
            os.remove(tmp)

    @staticmethod
    def _jsonl(con: duckdb.DuckDBPyConnection, part: pa.Table, target: str) -> None:
        con.register("part", part)
        try:
            escaped = target.replace("'", "''")
            con.execute(f"COPY (SELECT * FROM part) TO '{escaped}' (FORMAT JSON)")
        finally:
            con.unregister("part")

    # -- load ----------------------------------------------------------------------------------
    def load(self) -> pd.DataFrame:
        schema = _SCHEMAS.get(self._zone)
        options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer") if schema else None
        tables = []
        for day in self._days:
            path = self.day_path(day)
            if not self._fs.exists(path):
                continue
            content = self._fs.cat_file(path)
            if not content.strip():
                continue
            tables.append(pa_json.read_json(io.BytesIO(content), parse_options=options,
                                            read_options=pa_json.ReadOptions(block_size=16 << 20)))
        if not tables:
            if schema is not None:
                return schema.empty_table().to_pandas()
            return pd.DataFrame(columns=list(CANONICAL_COLUMNS))
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        return table.to_pandas()
