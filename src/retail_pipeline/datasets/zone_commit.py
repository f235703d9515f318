"""Commit a retailer's files into the raw zone as one unit: stage, mark, move, clean up.

A reader of the zone (the transformation, the quality pipeline, DuckDB or Athena globbing
`raw/*/*/*/*/*.json`) must never see a file that is not committed, nor a window whose files
and manifest disagree. Writing in place cannot promise that across several files, so a commit:

1. stages every new file under `{root}/_staging/{retailer}/{txn}/` (outside every partition
   folder, named `NNNN.part`: no partition glob and no `*.json` glob matches it),
2. writes the marker `{txn}/COMMIT` (JSON) listing the moves (staged -> final, the manifest
   last) and the files to remove,
3. moves each file into place (local: `os.replace`; S3: copy, then delete the staged object),
   removes the listed files, moves the manifest,
4. deletes the staging folder.

A failure before the marker exists leaves the zone as it was (the staging folder is deleted,
or else by the next access). A crash after it leaves the marker: the next access of that
retailer rolls the commit forward; every step is idempotent (a staged file that is gone was
already moved). So through the dataset a retailer's files and its manifest are always both old
or both new. A reader of the files alone sees every file whole, old or new; only between a
crash mid-move and the next access can it see some days new and others old.

Paths in the marker are relative to the zone root. One writer per retailer at a time is
assumed (one ingestion task per retailer and run date).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

log = logging.getLogger(__name__)

STAGING = "_staging"
MARKER = "COMMIT"
# Staging folders being written by this process (a window streamed chunk by chunk stays open
# across saves), txn -> its abort: recovery leaves them alone; `abort_open` drops them when the
# run fails between chunks (hooks.StagedWindowHook).
OPEN_TXNS: dict[str, Callable[[], None]] = {}


def abort_open() -> int:
    """Drop every window this process is staging (a failed run); returns how many."""
    aborts = list(OPEN_TXNS.values())
    for abort in aborts:
        try:
            abort()
        except Exception as exc:  # noqa: BLE001 - the next access deletes what is left
            log.warning("could not drop a staged raw-zone window (%s); the next run deletes it", exc)
    return len(aborts)


def _fsync(path: str, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ZoneCommitter:
    """Stages, commits and recovers the file commits of one retailer under a zone root.

    `fs` is an fsspec filesystem and `root` a path on it (without protocol); `local` selects
    os-level moves and fsync (same filesystem for the staging folder and the partitions).
    """

    def __init__(self, fs: Any, root: str, retailer: str, local: bool) -> None:
        self.fs, self.root, self.retailer, self.local = fs, root, retailer, local
        self.staging_root = self.path(f"{STAGING}/{retailer}")

    def path(self, relative: str) -> str:
        return str(PurePosixPath(self.root, relative))

    def begin(self) -> Staging:
        txn = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        return Staging(self, txn)

    # -- recovery ------------------------------------------------------------------------------
    def recover(self) -> None:
        """Roll forward every marked commit of this retailer; delete unmarked staging folders."""
        if self.local:
            if not os.path.isdir(self.staging_root):
                return
            txns = sorted(os.path.join(self.staging_root, name) for name in os.listdir(self.staging_root))
        else:
            self.fs.invalidate_cache(self.staging_root)
            if not self.fs.exists(self.staging_root):
                return
            txns = sorted(self.fs.ls(self.staging_root, detail=False))
        for txn in txns:
            if PurePosixPath(txn).name in OPEN_TXNS:
                continue  # being staged by this process right now
            marker = str(PurePosixPath(txn, MARKER))
            if self._exists(marker):
                plan = json.loads(self._read(marker))
                log.warning("%s: completing the interrupted raw-zone commit %s (%d file(s))",
                            self.retailer, PurePosixPath(txn).name, len(plan["moves"]))
                self.apply(plan)
            else:
                log.warning("%s: deleting the abandoned raw-zone staging folder %s (never committed)",
                            self.retailer, PurePosixPath(txn).name)
            self._remove_tree(txn)

    # -- applying a plan -----------------------------------------------------------------------
    def apply(self, plan: dict) -> None:
        """Moves, then removals, then the last moves (the manifest). Idempotent."""
        for staged, final in plan["moves"]:
            self._move(self.path(staged), self.path(final))
        for final in plan["removes"]:
            self._remove(self.path(final))
        for staged, final in plan["last"]:
            self._move(self.path(staged), self.path(final))
        if self.local:
            for folder in sorted({os.path.dirname(self.path(final)) for _, final in plan["moves"] + plan["last"]}):
                _fsync(folder, directory=True)

    def _move(self, staged: str, final: str) -> None:
        if not self._exists(staged):
            return  # moved before an interruption
        if self.local:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(staged, final)  # readers see the old file or the new one, never half
        else:
            self.fs.copy(staged, final)  # an object appears whole when its copy completes
            self.fs.rm(staged)

    def _remove(self, path: str) -> None:
        if self._exists(path):
            if self.local:
                os.remove(path)
            else:
                self.fs.rm(path)
            log.info("%s: removed %s (no rows for that day any more)", self.retailer, path)

    def _exists(self, path: str) -> bool:
        return os.path.exists(path) if self.local else self.fs.exists(path)

    def _read(self, path: str) -> bytes:
        if self.local:
            with open(path, "rb") as handle:
                return handle.read()
        return self.fs.cat_file(path)

    def _remove_tree(self, path: str) -> None:
        if self.local:
            shutil.rmtree(path, ignore_errors=True)
        elif self.fs.exists(path):
            self.fs.rm(path, recursive=True)


class Staging:
    """One commit being prepared: files staged so far, files to remove, then `commit()`."""

    def __init__(self, committer: ZoneCommitter, txn: str) -> None:
        self.committer = committer
        self.txn = txn
        self.folder = f"{STAGING}/{committer.retailer}/{txn}"
        self.moves: list[list[str]] = []
        self.last: list[list[str]] = []
        self.removes: list[str] = []
        self.current: str | None = None  # the path being written, for error messages
        self.marked = False  # the marker is written: from then on, the commit only rolls forward
        if committer.local:
            os.makedirs(committer.path(self.folder), exist_ok=True)

    def _next_name(self) -> str:
        return f"{self.folder}/{len(self.moves) + len(self.last) + 1:04d}.part"

    def stage(self, final: str, write: Callable[[str], None], last: bool = False) -> None:
        """Stage the file that `write(local_path)` produces, to be moved to `final` (relative)."""
        staged = self._next_name()
        c = self.committer
        if c.local:
            self.current = c.path(staged)
            write(self.current)
            _fsync(self.current)
        else:
            handle, tmp = tempfile.mkstemp(prefix="raw_zone_", suffix=".part")
            os.close(handle)
            try:
                self.current = tmp
                write(tmp)
                self.current = c.path(staged)
                c.fs.put_file(tmp, self.current)
            finally:
                os.remove(tmp)
        (self.last if last else self.moves).append([staged, final])

    def stage_local(self, final: str, local_path: str) -> None:
        """Stage the finished local file `local_path` (it is moved, or uploaded and deleted)."""
        c = self.committer
        if c.local:
            self.stage(final, lambda path: os.replace(local_path, path))
            return
        staged = self._next_name()
        self.current = c.path(staged)
        try:
            c.fs.put_file(local_path, self.current)
        finally:
            os.remove(local_path)
        self.moves.append([staged, final])

    def stage_bytes(self, final: str, content: bytes, last: bool = False) -> None:
        def write(path: str) -> None:
            with open(path, "wb") as handle:
                handle.write(content)

        self.stage(final, write, last=last)

    def remove(self, final: str) -> None:
        """Remove `final` (relative) at commit, if it exists then."""
        self.removes.append(final)

    def commit(self) -> None:
        """Write the marker, move everything into place, delete the staging folder."""
        c = self.committer
        plan = {"txn": self.txn, "moves": self.moves, "removes": self.removes, "last": self.last}
        marker = c.path(f"{self.folder}/{MARKER}")
        self.current = marker
        body = json.dumps(plan, indent=1).encode()
        if c.local:
            part = marker + ".part"
            with open(part, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(part, marker)  # the marker exists whole or not at all
            _fsync(os.path.dirname(marker), directory=True)
        else:
            c.fs.pipe_file(marker, body)  # one PUT: whole or absent
        self.marked = True
        self.current = None
        c.apply(plan)
        c._remove_tree(c.path(self.folder))

    def abort(self) -> None:
        """Forget the staged files, unless the commit is marked (then the next access completes it).

        Best effort: what cannot be deleted now, the next access deletes.
        """
        if self.marked:
            return
        try:
            self.committer._remove_tree(self.committer.path(self.folder))
        except Exception as exc:  # noqa: BLE001 - the original error matters more
            log.warning("%s: could not delete the staging folder %s (%s); the next run deletes it",
                        self.committer.retailer, self.folder, exc)
