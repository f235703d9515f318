"""Where a retailer's landing sets live, and how their files are written and read (fsspec).

Layout, next to the raw zone (the same root: `globals raw_zone`, a folder or s3://bucket):

    {root}/landing/{retailer}/year=YYYY/month=MM/day=DD/            the run date (window end)
        index.json                          the committed landing set (written last)
        pages-{txn}/000001.json.gz ...      one extraction's response bodies, verbatim, gzip

A page folder that `index.json` does not name is not part of any landing set (an extraction
still running, one that crashed, one the consistency check rejected, or the set a later one
replaced) and is deleted by the next commit for that day. Everything of a run date lives
under its day prefix, so deleting the prefix (retention) removes it whole.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import get_protocol_and_path

from retail_pipeline.datasets.zone_files import s3_options

ZONE = "landing"
INDEX = "index.json"
PAGES = "pages-"


class LandingZone:
    """One retailer's landing sets under `root` (local path or fsspec URL)."""

    def __init__(self, root: str, retailer: str, credentials: dict[str, Any] | None = None,
                 fs_args: dict[str, Any] | None = None, timeouts: dict[str, Any] | None = None) -> None:
        self.protocol, self.root = get_protocol_and_path(str(root).rstrip("/"))
        self.retailer = retailer
        options, _ = s3_options(self.protocol, {**(credentials or {}), **(fs_args or {})}, timeouts)
        self.fs = fsspec.filesystem(self.protocol, **options)
        if "config_kwargs" in options:
            self.fs.retries = 1  # botocore retries (zone_files.s3_options), not s3fs's loop as well
        self.local = self.protocol == "file"

    # -- paths ---------------------------------------------------------------------------------
    def day_prefix(self, run_date: date) -> str:
        return str(PurePosixPath(self.root, ZONE, self.retailer, f"year={run_date.year:04d}",
                                 f"month={run_date.month:02d}", f"day={run_date.day:02d}"))

    def index_path(self, run_date: date) -> str:
        return f"{self.day_prefix(run_date)}/{INDEX}"

    def shown(self, path: str) -> str:
        return path if self.local else f"{self.protocol}://{path}"

    # -- files ---------------------------------------------------------------------------------
    def write(self, path: str, content: bytes) -> None:
        """One whole file: local via a temp name, fsync and rename; S3 as one PUT."""
        if not self.local:
            self.fs.pipe_file(path, content)
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        part = f"{path}.part"
        with open(part, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, path)

    def read(self, path: str) -> bytes:
        return self.fs.cat_file(path)

    def read_index(self, run_date: date) -> dict | None:
        """The committed landing set of `run_date`, or None when there is none."""
        path = self.index_path(run_date)
        if not self.local:
            self.fs.invalidate_cache(os.path.dirname(path))
        if not self.fs.exists(path):
            return None
        return json.loads(self.read(path))

    def commit_index(self, run_date: date, index: dict) -> None:
        """Commit a landing set: its index replaces the previous one whole (the commit point),
        then every page folder it does not name is deleted."""
        self.write(self.index_path(run_date), json.dumps(index, indent=1).encode())
        if self.local:
            fd = os.open(self.day_prefix(run_date), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.remove_folders(run_date, keep=index["folder"])

    def remove_folders(self, run_date: date, keep: str | None = None, only: str | None = None) -> None:
        """Delete page folders of the day (all but `keep`, or just `only`); best effort."""
        prefix = self.day_prefix(run_date)
        if not self.local:
            self.fs.invalidate_cache(prefix)
        if not self.fs.exists(prefix):
            return
        for path in self.fs.ls(prefix, detail=False):
            name = PurePosixPath(path).name
            if name.startswith(PAGES) and name != keep and (only is None or name == only):
                self.fs.rm(path, recursive=True)
