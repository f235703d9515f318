"""`RawZoneChunksDataset`: a retailer's window of raw canonical rows, loaded lazily in chunks.

The transformation reads a day of any size in bounded memory: `load()` returns `RawChunks`, a
re-iterable handle on the window's day files (the layout and format of `RawZoneDataset`:
`raw/{retailer}/year=YYYY/month=MM/day=DD/sales_data.json`, JSON Lines); nothing is read
until a node iterates it. Then each file is read by DuckDB (one thread, a small memory limit)
and handed over as Arrow record batches of at most `chunk_rows` rows, turned into pandas
frames one at a time. DuckDB reads JSON Lines about twice as fast as pyarrow's reader (measured
on this project's files, one thread each).

Saving is `RawZoneDataset`'s, unchanged (the window's files and manifest as one commit): the
catalog's `<code>.raw_sales` is this class, so the ingestion writes it and the transformation
reads it, and Kedro orders the two. `RawChunks.to_frame()` reads the whole window (the quality
pipeline's file summary, tools). Like every access of the raw zone a load first completes or
drops an interrupted commit of the retailer (zone_commit). On S3 DuckDB reads through the
entry's fsspec filesystem.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from kedro.io.core import DatasetError

from retail_pipeline.datasets.raw_zone import RawZoneDataset
from retail_pipeline.datasets.zone_files import CANONICAL_ARROW

DEFAULT_CHUNK_ROWS = 100_000
_DUCK_TYPES = {"int64": "BIGINT", "double": "DOUBLE"}
_COLUMNS = {f.name: _DUCK_TYPES.get(str(f.type), "VARCHAR") for f in CANONICAL_ARROW}
# Read as written: an integer column would round a quantity of 1.5 to 2 before the checks see it,
# and the quarantine record would show 2. Whole quantities are handed over as int64 (`_typed`).
_COLUMNS["quantity"] = "DOUBLE"


def _columns_spec(names: list[str]) -> str:
    return "{" + ", ".join(f"'{name}': '{_COLUMNS[name]}'" for name in names) + "}"


def _quoted(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """quantity as int64 (the raw zone's type) when every value is a whole number, as the zone's
    own writer leaves it; otherwise (a fraction, a missing value, beyond 2**53) float64, so that
    staging quarantines the odd value as it is."""
    quantity = frame["quantity"].to_numpy()
    if not np.isnan(quantity).any() and (quantity == np.floor(quantity)).all() and (np.abs(quantity) < 2**53).all():
        frame["quantity"] = quantity.astype("int64")
    return frame


class RawChunks:
    """The window's raw rows of one retailer, read when iterated (see the module docstring).

    Iterating yields frames of the canonical columns, at most `chunk_rows` rows each, day by day
    in file order; iterating again reads the files again."""

    chunked = True  # what the transformation's stage_sales looks for

    def __init__(self, retailer: str, paths: list[str], chunk_rows: int, filesystem: Any = None,
                 memory_limit: str = "256MB"):
        self.retailer = retailer
        self.paths = paths
        self.chunk_rows = int(chunk_rows)
        self._fs = filesystem
        self._memory_limit = memory_limit

    def __repr__(self) -> str:
        return f"RawChunks({self.retailer}, {len(self.paths)} file(s), chunk_rows={self.chunk_rows})"

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": 1, "memory_limit": self._memory_limit,
                                     "preserve_insertion_order": True})
        con.execute("SET enable_progress_bar = false")
        if self._fs is not None:
            con.register_filesystem(self._fs)
        return con

    def _scan(self, path: str, names: list[str]) -> str:
        return (f"read_json({_quoted(path)}, columns={_columns_spec(names)}, format='newline_delimited', "
                "hive_partitioning=false, union_by_name=false)")

    def __iter__(self) -> Iterator[pd.DataFrame]:
        names = list(_COLUMNS)
        for path in self.paths:
            con = self._connect()
            try:
                reader = con.sql(f"SELECT * FROM {self._scan(path, names)}").to_arrow_reader(self.chunk_rows)
                for batch in reader:
                    if batch.num_rows:
                        yield _typed(batch.to_pandas())
            finally:
                con.close()

    def to_frame(self) -> pd.DataFrame:
        """The whole window in one frame (what RawZoneDataset loads)."""
        frames = list(self)
        if not frames:
            return CANONICAL_ARROW.empty_table().to_pandas()
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


class RawZoneChunksDataset(RawZoneDataset):
    """`RawZoneDataset` whose load is lazy: the raw zone's window of a retailer as `RawChunks`
    (see the module docstring).

    Catalog (conf/base/catalog_ingestion.yml)::

        "{retailer}.raw_sales":
          type: retail_pipeline.datasets.raw_chunks.RawZoneChunksDataset
          root: ${globals:raw_zone}
          zone: raw
          retailer: "{retailer}"
          window_start: ...
          window_end: ...
          chunk_rows: 100000
    """

    def __init__(self, *, chunk_rows: int = DEFAULT_CHUNK_ROWS, memory_limit: str = "256MB",
                 zone: str = "raw", **kwargs: Any) -> None:
        if zone != "raw":
            raise DatasetError("RawZoneChunksDataset reads the raw zone only (zone: raw)")
        super().__init__(zone="raw", **kwargs)
        if int(chunk_rows) < 1:
            raise DatasetError(f"RawZoneChunksDataset chunk_rows must be at least 1 (got {chunk_rows})")
        self._chunk_rows = int(chunk_rows)
        self._memory_limit = memory_limit

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "chunk_rows": self._chunk_rows}

    def _load(self) -> RawChunks:  # Kedro makes `_load` the dataset's load (RawZoneDataset has one)
        try:
            self._recover()
            paths = []
            for day in self._days:
                path = self.day_path(day)
                if self._fs.exists(path) and self._fs.size(path):
                    paths.append(path if self._local else f"{self._protocol}://{path}")
        except Exception as exc:
            raise self._access_error(exc, "reading") from exc
        return RawChunks(self._retailer, paths, self._chunk_rows, None if self._local else self._fs,
                         self._memory_limit)
