"""Retention in the zones (the raw zone root of globals `raw_zone`, local folder or S3 through
fsspec, with the `raw_zone` credentials, as RawZoneDataset opens it).

A day goes whole: every file under `{raw|quarantine|landing}/{retailer}/year=YYYY/month=MM/day=DD/`
for a day before the cutoff, and `manifests/{retailer}/run_date=YYYY-MM-DD/` for a run date
before it (a manifest describes its run's window, which ends on its run date, so one before
the cutoff describes removed days only). The landing zone may be absent: then nothing is there
to list. `_staging/` (commits in progress) is never touched. Files are listed first (the dry
run stops there), then exactly the listed files are deleted, and empty local folders pruned.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from typing import Any

import fsspec
from kedro.io.core import get_protocol_and_path

from retail_pipeline.datasets.zone_files import s3_options
from retail_pipeline.retention.rules import ZONES, Item, day_prefix, manifest_day, zone_day

log = logging.getLogger(__name__)
AREAS = (*ZONES, "manifests")
_BATCH = 500  # S3 DeleteObjects takes up to 1000 keys


class Zones:
    """The zone root, and the day folders before a cutoff."""

    def __init__(self, root: str, credentials: dict[str, Any] | None = None, timeouts: dict[str, Any] | None = None):
        self.protocol, path = get_protocol_and_path(str(root).rstrip("/"))
        options, _ = s3_options(self.protocol, dict(credentials or {}), timeouts)
        self.fs = fsspec.filesystem(self.protocol, **options)
        if "config_kwargs" in options:
            self.fs.retries = 1  # botocore retries (zone_files.s3_options), not s3fs's loop too
        self.local = self.protocol == "file"
        self.root = os.path.abspath(path) if self.local else path

    def display(self, relative: str) -> str:
        path = f"{self.root}/{relative}"
        return path if self.local else f"{self.protocol}://{path}"

    def _files(self, area: str) -> list[str]:
        base = f"{self.root}/{area}"
        if not self.local:
            self.fs.invalidate_cache(base)
        if not self.fs.exists(base):
            return []
        return sorted(self.fs.find(base))

    def days_before(self, cutoff: date) -> dict[Item, list[str]]:
        """Every zone day before the cutoff -> its files (the plan; nothing is removed)."""
        found: dict[tuple[str, str, date], list[str]] = {}
        for area in AREAS:
            base = f"{self.root}/{area}/"
            parse = manifest_day if area == "manifests" else zone_day
            for path in self._files(area):
                path = path if self.local else path.lstrip("/")
                relative = path[len(base):] if path.startswith(base) else None
                parsed = parse(relative) if relative else None
                if parsed and parsed[1] < cutoff:
                    found.setdefault((area, *parsed), []).append(path)
        return {Item(f"zone_{area}", code, day, self.display(day_prefix(area, code, day)), len(files)): files
                for (area, code, day), files in sorted(found.items())}

    def remove(self, planned: dict[Item, list[str]]) -> list[Item]:
        """Delete the planned files; returns the days removed with the files actually deleted."""
        removed = []
        for item, files in planned.items():
            present = [path for path in files if self.fs.exists(path)]
            for start in range(0, len(present), _BATCH):
                self.fs.rm(present[start:start + _BATCH])
            if self.local:
                self._prune(os.path.dirname(present[0]) if present else None)
            removed.append(Item(item.kind, item.retailer_code, item.day, item.target, len(present)))
            log.info("retention: removed %s (%d file(s))", item.target, len(present))
        return removed

    def _prune(self, folder: str | None) -> None:
        """Remove the emptied local folders up to (not including) the zone folders."""
        stop = {os.path.join(self.root, area) for area in AREAS} | {self.root}
        while folder and folder not in stop and folder.startswith(self.root) and os.path.isdir(folder):
            for dirpath, _dirs, _files in os.walk(folder, topdown=False):  # deepest first
                if not os.listdir(dirpath):
                    os.rmdir(dirpath)
            if os.path.exists(folder):
                break
            folder = os.path.dirname(folder)
