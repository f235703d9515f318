"""A raw-zone window written chunk by chunk, committed whole (`RawZoneDataset`'s save path).

Each chunk's rows are split by day and appended to that day's file in the commit's staging
folder (on S3: in a local temp folder, uploaded at the end); nothing is visible until `commit`
stages the files and the manifest and `zone_commit` moves them into place as one unit. Until
then the old window stays as it was: a failure between chunks (the retailer went down, the
process died) leaves a staging folder that `abort`, or the next access of the retailer, deletes.
Memory holds one chunk; the day's files grow on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
from kedro.io.core import DatasetError

from retail_pipeline.datasets.zone_commit import OPEN_TXNS, ZoneCommitter
from retail_pipeline.datasets.zone_files import to_arrow

Writer = Callable[[duckdb.DuckDBPyConnection, pa.Table, str], None]


def day_positions(data: pd.DataFrame, days: list[str], date_column: str, where: str) -> dict:
    """{day iso: row positions} for the window's days; refuses rows dated outside it."""
    if date_column not in data.columns:
        raise DatasetError(f"{where}: rows have no {date_column!r} column")
    dates = data[date_column]
    outside = sorted(set(dates[~dates.isin(days)].astype(str)))
    if outside:
        raise DatasetError(
            f"{where}: rows dated {', '.join(outside[:5])} are outside the window {days[0]}..{days[-1]}; "
            f"only the window's partitions may be replaced")
    return data.groupby(dates, sort=False).indices if len(data) else {}


class StagedWindow:
    """One window of one retailer being staged: `append` chunks, then `commit` or `abort`.

    `relative(day, zone)` names a day's file; `zones` are the zones the commit replaces
    (every window day of them: a day without rows loses its file).
    """

    def __init__(self, committer: ZoneCommitter, relative: Callable[[str, str], str], days: list[str],
                 zones: tuple[str, ...], date_column: str, write: Writer, threads: int, retailer: str) -> None:
        self.committer, self.relative, self.days, self.zones = committer, relative, days, zones
        self.date_column, self.write, self.retailer = date_column, write, retailer
        self.staging = committer.begin()
        OPEN_TXNS[self.staging.txn] = self.abort
        self.folder = committer.path(self.staging.folder) if committer.local else tempfile.mkdtemp(prefix="raw_zone_")
        self.files: dict[tuple[str, str], str] = {}
        self.rows: dict[str, int] = dict.fromkeys(zones, 0)
        self.day_rows: dict[tuple[str, str], int] = {}
        self.con = duckdb.connect(config={"threads": threads})
        self.closed = False

    def append(self, zone: str, data: pd.DataFrame) -> None:
        """The chunk's rows, each appended to its day's staged file (refused if dated outside)."""
        positions = day_positions(data, self.days, self.date_column, f"{self.retailer} {zone}")
        if not len(data):
            return
        # DuckDB writes from an Arrow table: the frame's Arrow-backed text columns are shared.
        table = to_arrow(data)
        for day, rows in positions.items():
            part = table.take(pa.array(rows)) if len(rows) != len(data) else table
            target = self.files.setdefault((zone, day), os.path.join(self.folder, f"grow-{zone}-{day}.jsonl"))
            self.staging.current = target
            self.write(self.con, part, target)  # appended
            del part
            self.day_rows[(zone, day)] = self.day_rows.get((zone, day), 0) + len(rows)
            self.rows[zone] += len(rows)
        self.staging.current = None
        del table
        pa.default_memory_pool().release_unused()  # the allocator would keep it otherwise

    def check(self, manifest: Mapping) -> None:
        """The manifest describes the staged rows (totals and days) and this window."""
        counts = {"rows_written": self.rows.get("raw", 0), "rows_quarantined": self.rows.get("quarantine", 0)}
        wrong = [f"{k} {manifest[k]} for {v} rows" for k, v in counts.items() if k in manifest and manifest[k] != v]
        window = f"{self.days[0]}..{self.days[-1]}"
        given = f"{manifest.get('window_start', self.days[0])}..{manifest.get('window_end', self.days[-1])}"
        if given != window:
            wrong.append(f"window {given} where this dataset's window is {window}")
        for day in manifest.get("days") or []:
            for key, zone in (("rows_written", "raw"), ("rows_quarantined", "quarantine")):
                staged = self.day_rows.get((zone, day.get("sale_date")), 0)
                if key in day and day[key] != staged:
                    wrong.append(f"{day.get('sale_date')} {key} {day[key]} for {staged} rows")
        if wrong:
            raise DatasetError(f"{self.retailer}: the manifest does not describe these rows "
                               f"({'; '.join(wrong[:5])}); nothing was written")

    def commit(self, manifest: Mapping | None, manifest_path: str) -> None:
        """Stage every day's file (or its removal) and the manifest; move them in as one unit."""
        for zone in self.zones:
            for day in self.days:
                path = self.files.get((zone, day))
                if path is None:
                    self.staging.remove(self.relative(day, zone))
                else:
                    self.staging.stage_local(self.relative(day, zone), path)
        if manifest is not None:
            self.staging.stage_bytes(manifest_path, json.dumps(manifest, indent=2).encode(), last=True)
        self.staging.commit()
        self.close()

    def abort(self) -> None:
        """Forget the staged rows (unless the commit is marked: then the next access completes it)."""
        self.staging.abort()
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        OPEN_TXNS.pop(self.staging.txn, None)
        self.con.close()
        if not self.committer.local:
            shutil.rmtree(self.folder, ignore_errors=True)

    def describe(self) -> Any:
        return {zone: rows for zone, rows in self.rows.items()}
