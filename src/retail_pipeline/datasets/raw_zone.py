"""`RawZoneDataset`: a retailer's window in the raw zone: raw and quarantine day partitions and
the run's manifest, written together as one unit.

Layout (docs/contracts.md), on the local filesystem or any fsspec URL (s3://bucket/...):

    {root}/{raw|quarantine}/{retailer}/year=YYYY/month=MM/day=DD/sales_data.json  (JSON Lines)
    {root}/manifests/{retailer}/run_date=YYYY-MM-DD/manifest.json

`zone` selects what an entry loads: `raw` (the window's canonical rows, for the
transformation), `quarantine` (with `reasons` as lists) or `manifest` (the run date's manifest,
a dict). The ingestion node streams its window in parts, each one `save`: `{"begin": n}` (a
walk of the extraction starts; anything staged before is dropped), chunks `{"raw": frame,
"quarantine": frame}` (appended to the day files in the staging folder, zone_stream.py), then
`{"manifest": dict}`, which checks that the manifest counts what was staged and replaces the
window's files of both zones and the manifest as one commit (`zone_commit`). A whole unit
`{"raw", "quarantine", "manifest"}` in one save does the same at once. After any failure - a retailer down, a full disk, an S3 error, kill -9 - the
window's files and its manifest are both the old ones or both the new ones when read through
this dataset, and nothing uncommitted sits where a partition glob reads. A window day without rows loses its file, so
a rerun leaves exactly this extraction's records. Rows dated outside the window are refused.
Saving a bare frame replaces that one zone's window the same way (for tools and tests; the
pipeline always saves the unit). The manifest entry is load-only; it loads None when the run
date has no manifest (that retailer's extraction failed or never ran: the quality pipeline
reports it), and fails on a manifest it cannot read.

Every access first completes an interrupted commit of the retailer, or deletes an abandoned
one, and removes the `.sales_data.json.*.tmp` files older versions left in partition folders.

JSON Lines are written by DuckDB from an Arrow view of the frame (text columns shared, not
copied; nulls as `null`), read back with pyarrow's JSON reader.

On S3, every call has a connect and a read timeout and a bounded number of attempts (botocore's
`standard` retry mode; s3fs's own retry loop is turned off so the two do not multiply), set by
`timeouts` ({connect_seconds, read_seconds, attempts}); `fs_args.config_kwargs` still overrides
any botocore option. A frozen endpoint then fails the save or load within about attempts x
read_seconds, naming the retailer, the zone and the endpoint, instead of hanging the run.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import duckdb
import fsspec
import pandas as pd
import pyarrow as pa
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from retail_pipeline.datasets.zone_commit import Staging, ZoneCommitter
from retail_pipeline.datasets.zone_files import SCHEMAS, disk_full, read_jsonl, s3_options, timeout_hint, write_jsonl
from retail_pipeline.datasets.zone_stream import StagedWindow
from retail_pipeline.run_window import parse_run_date, window_dates

log = logging.getLogger(__name__)


def _write_part(con: duckdb.DuckDBPyConnection, part: pa.Table, path: str) -> None:
    write_jsonl(con, part, path)  # looked up at each call (tests replace it)

ZONES = ("raw", "quarantine", "manifest")
UNIT_KEYS = ("raw", "quarantine", "manifest")


class RawZoneDataset(AbstractDataset[Any, Any]):
    """One retailer's window in the raw zone (see the module docstring).

    Example (catalog):

        "{retailer}.raw_sales":
          type: retail_pipeline.datasets.raw_zone.RawZoneDataset
          root: ${globals:raw_zone}            # data/01_raw or s3://bucket
          zone: raw                            # raw | quarantine | manifest
          retailer: "{retailer}"
          window_start: ${window_start:...}
          window_end: ${run_date:...}          # the run date: names the manifest
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
        timeouts: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not root:
            raise DatasetError("RawZoneDataset needs a root (globals raw_zone)")
        if zone not in ZONES:
            raise DatasetError(f"RawZoneDataset zone must be one of {', '.join(ZONES)} (got {zone!r})")
        self._protocol, root_path = get_protocol_and_path(str(root).rstrip("/"))
        self._root = root_path
        self._zone = zone
        self._retailer = retailer
        self._days = window_dates(parse_run_date(window_start), parse_run_date(window_end))
        self._filename = filename
        self._date_column = date_column
        self._storage_options = {**(credentials or {}), **(fs_args or {})}
        self._storage_options, self._timeouts = s3_options(self._protocol, self._storage_options, timeouts)
        self._fs = fsspec.filesystem(self._protocol, **self._storage_options)
        if "config_kwargs" in self._storage_options:
            self._fs.retries = 1  # s3fs's loop around botocore's: one pass, botocore retries
        self._local = self._protocol == "file"
        self._committer = ZoneCommitter(self._fs, self._root, retailer, self._local)
        # One thread: DuckDB's ordered parallel COPY buffers the output (1M records took 1.5 GB
        # more and was slower on two cores); a single writer streams it.
        self._threads = duckdb_threads
        self._window: StagedWindow | None = None  # the window being staged, chunk by chunk
        self.metadata = metadata

    # -- paths ---------------------------------------------------------------------------------
    def _relative_day(self, day, zone: str) -> str:
        return (f"{zone}/{self._retailer}/year={day.year:04d}/month={day.month:02d}/day={day.day:02d}/"
                f"{self._filename}")

    def _relative_manifest(self) -> str:
        return f"manifests/{self._retailer}/run_date={self._days[-1].isoformat()}/manifest.json"

    def day_path(self, day, zone: str | None = None) -> str:
        return self._committer.path(self._relative_day(day, zone or self._zone))

    @property
    def manifest_path(self) -> str:
        return self._committer.path(self._relative_manifest())

    def _display(self, path: str) -> str:
        return path if self._local else f"{self._protocol}://{path}"

    def _describe(self) -> dict[str, Any]:
        return {"root": self._display(self._root), "zone": self._zone, "retailer": self._retailer,
                "window": [self._days[0].isoformat(), self._days[-1].isoformat()]}

    def _exists(self) -> bool:
        self._recover()
        if self._zone == "manifest":
            return self._fs.exists(self.manifest_path)
        return any(self._fs.exists(self.day_path(day)) for day in self._days)

    # -- recovery ------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Finish or drop an interrupted commit; delete temp files older versions left behind."""
        self._committer.recover()
        if not self._local:
            return
        for zone in ("raw", "quarantine"):
            for day in self._days:
                folder = os.path.dirname(self.day_path(day, zone))
                if not os.path.isdir(folder):
                    continue
                for name in os.listdir(folder):
                    if name.startswith(f".{self._filename}.") and name.endswith(".tmp"):
                        os.remove(os.path.join(folder, name))
                        log.warning("%s: removed the leftover temp file %s", self._retailer, os.path.join(folder, name))

    # -- save ----------------------------------------------------------------------------------
    def save(self, data: Any) -> None:
        """A unit {"raw", "quarantine", "manifest"}, or the ingestion node's stream of parts:
        {"begin": n}, chunks {"raw", "quarantine"}, then {"manifest"} (see the module docstring)."""
        if self._zone == "manifest" or not isinstance(data, Mapping | pd.DataFrame):
            raise DatasetError(
                f"{self._retailer} {self._zone}: save {{'raw': frame, 'quarantine': frame, 'manifest': dict}} "
                f"(the ingestion node's output) to {self._retailer}.raw_sales; the manifest is written "
                f"with the window's files, never alone")
        if isinstance(data, pd.DataFrame):
            self._begin((self._zone,))
            self._append({self._zone: data})
            self._finish(None)
            return
        unknown = set(data) - {*UNIT_KEYS, "begin"}
        if unknown:
            raise DatasetError(f"{self._retailer}: unknown raw-zone part(s) {', '.join(sorted(map(str, unknown)))}; "
                               f"known: begin, {', '.join(UNIT_KEYS)}")
        frames = [key for key in ("raw", "quarantine") if key in data]
        alone = not frames and "begin" not in data and self._window is None  # a manifest needs rows staged
        if (frames and len(frames) < 2) or alone:
            missing = [key for key in UNIT_KEYS if key not in data]
            raise DatasetError(f"{self._retailer}: a raw-zone window needs {', '.join(UNIT_KEYS)}; "
                               f"{', '.join(missing)} missing")
        if "manifest" in data and not isinstance(data["manifest"], Mapping):
            raise DatasetError(f"{self._retailer}: raw and quarantine must be DataFrames and manifest a dict")
        if "begin" in data or self._window is None:
            self._begin(("raw", "quarantine"))
        if frames:
            self._append({key: data[key] for key in frames})
        if "manifest" in data:
            self._finish(data["manifest"])

    def _begin(self, zones: tuple[str, ...]) -> None:
        """A new staged window (an open one is dropped: the extraction started over)."""
        if self._window is not None:
            self._window.abort()
            self._window = None
        try:
            self._recover()
            days = [day.isoformat() for day in self._days]
            self._window = StagedWindow(self._committer, lambda day, zone: self._relative_day(parse_run_date(day), zone), days,
                                        zones, self._date_column, _write_part, self._threads, self._retailer)
        except Exception as exc:
            raise self._access_error(exc, "preparing the write") from exc

    def _append(self, frames: dict[str, Any]) -> None:
        window = self._window
        try:
            if not all(isinstance(frame, pd.DataFrame) for frame in frames.values()):
                raise DatasetError(f"{self._retailer}: raw and quarantine must be DataFrames and manifest a dict")
            for zone, frame in frames.items():
                window.append(zone, frame)
        except BaseException as exc:
            self._window = None
            window.abort()
            if isinstance(exc, DatasetError) or not isinstance(exc, Exception):
                raise
            raise self._write_error(exc, window.staging) from exc

    def _finish(self, manifest: Mapping | None) -> None:
        window, self._window = self._window, None
        try:
            if manifest is not None:
                window.check(manifest)
            window.commit(manifest, self._relative_manifest())
        except Exception as exc:
            window.abort()
            if isinstance(exc, DatasetError):
                raise
            raise self._write_error(exc, window.staging) from exc
        finally:
            window.close()  # a crash mid-move (marked) is completed by the next access
        sizes = ", ".join(f"{rows} {zone}" for zone, rows in window.describe().items())
        log.info("%s: committed %s record(s)%s for %s..%s under %s", self._retailer, sizes,
                 " and the manifest" if manifest is not None else "", self._days[0], self._days[-1],
                 self._display(self._root))

    def _write_error(self, exc: Exception, staging: Staging) -> DatasetError:
        """The cause, where, and what to do, on the last line (Kedro shows the last line last)."""
        where = staging.current or self._display(self._root)
        if staging.marked:
            return DatasetError(
                f"{self._retailer}: the raw-zone commit was interrupted while moving files into place "
                f"({type(exc).__name__}: {exc}).\n{self._retailer}: the next run, or any read of this "
                f"retailer's raw zone, completes it from {self._display(self._committer.staging_root)}; "
                f"fix the cause above and rerun.")
        kept = "the raw zone still holds the previous files and manifest of this window, unchanged"
        if disk_full(exc):
            return DatasetError(
                f"{self._retailer}: could not write the window {self._days[0]}..{self._days[-1]} to the raw zone.\n"
                f"{self._retailer}: no space left on device while writing {where}; {kept}. Free space on "
                f"that disk (or point globals raw_zone at a larger one) and rerun.")
        return DatasetError(
            f"{self._retailer}: could not write the window {self._days[0]}..{self._days[-1]} to the raw zone.\n"
            f"{self._retailer}: {type(exc).__name__} while writing {where}: {str(exc).strip() or repr(exc)}; "
            f"{kept}. {timeout_hint(exc, self._timeouts) or 'Fix the cause and rerun.'}")

    def _access_error(self, exc: Exception, doing: str) -> DatasetError:
        if isinstance(exc, DatasetError):
            return exc
        return DatasetError(
            f"{self._retailer}: the raw zone ({self._zone}) at {self._display(self._root)} failed while {doing}: "
            f"{type(exc).__name__}: {str(exc).strip()[:300] or repr(exc)}. "
            f"{timeout_hint(exc, self._timeouts) or 'Fix the cause and rerun.'}")

    # -- load ----------------------------------------------------------------------------------
    def load(self) -> Any:
        try:
            return self._load()
        except Exception as exc:
            raise self._access_error(exc, "reading") from exc

    def _load(self) -> Any:
        self._recover()
        if self._zone == "manifest":
            path = self.manifest_path
            if not self._fs.exists(path):  # the retailer's extraction failed, or never ran
                log.warning("%s: no ingestion manifest for run date %s at %s", self._retailer,
                            self._days[-1], self._display(path))
                return None
            return json.loads(self._fs.cat_file(path))
        schema = SCHEMAS[self._zone]
        tables = []
        for day in self._days:
            path = self.day_path(day)
            if not self._fs.exists(path):
                continue
            content = self._fs.cat_file(path)
            if not content.strip():
                continue
            tables.append(read_jsonl(content, schema))
        if not tables:
            return schema.empty_table().to_pandas()
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        return table.to_pandas()
