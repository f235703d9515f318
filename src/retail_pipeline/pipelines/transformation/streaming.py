"""The transformation of a window read in chunks: lazy values the nodes hand on, computed chunk by
chunk while the warehouse load iterates them, so a day of any size is staged and loaded in
bounded memory (issue 11).

- `StagedChunks` (what `stage_sales` returns for `RawChunks`): iterating it yields
  (staged rows, quarantine rows) per chunk, each staged exactly as `stage_sales` stages frames
  (its checks are row by row; versions of a transaction within a chunk are resolved there).
  A transaction held twice in the window (a corrected version) may sit in two chunks: the
  rows' sale keys (staging.sale_keys, the facts' sale_id) are kept as the chunks pass (8 bytes a row), and when two chunks
  shared one, the iteration ends with `ReadAgain` instead of finishing; the load rolls back what
  it streamed and iterates again, and this time the rows of those transactions are held back
  and staged last, latest version first, as one chunk. A window without corrections across
  chunks (the usual case) is read once.
- `load_chunks` (what `build_retailer_star_schema` puts in the load as `chunks`): each staged
  chunk as the frames of a load (facts, dimension members, quarantine, audit), which
  PostgresStarSchemaDataset streams into the day tables (warehouse.stream).

Both are pure: iterating them twice gives the same chunks (the raw zone is read again).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from retail_pipeline.warehouse.stream import ReadAgain

logger = logging.getLogger(__name__)


class StagedChunks:
    """The window's rows of `raws` (RawChunks), staged chunk by chunk (module docstring)."""

    def __init__(self, retailers: dict[str, Any], run_date: str, lookback_days: int, raws: tuple[Any, ...]):
        self.retailers, self.run_date, self.lookback_days = retailers, run_date, lookback_days
        self.raws = tuple(raws)
        self.quarantine = QuarantineSide(self)
        self.counts: dict[str, int] = {}
        self._versioned: np.ndarray | None = None  # hashes of ids seen in two chunks (after a first pass)

    def __repr__(self) -> str:
        return f"StagedChunks({', '.join(map(repr, self.raws))})"

    def __iter__(self) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        from .staging import NO_SALE_ID, _canonical, latest_versions, normalize, sale_keys, stage_rows

        versioned, seen, held, chunks = self._versioned, [], [], 0
        counts = dict.fromkeys(("received", "loadable", "quarantined", "superseded"), 0)
        for raw in self.raws:
            for chunk in raw:
                frame = normalize(_canonical(chunk))
                frame["sale_id"] = sale_keys(frame)
                counts["received"] += len(frame)
                if versioned is not None and len(versioned):
                    later = np.isin(frame["sale_id"].to_numpy(), versioned)
                    if later.any():
                        held.append(frame[later])
                        frame = frame[~later]
                ids = np.sort(frame["sale_id"].to_numpy())
                ids = ids[ids != NO_SALE_ID]
                repeated = ids[1:] == ids[:-1]
                if repeated.any():  # versions within the chunk (rare): the latest only
                    before = len(frame)
                    frame = latest_versions(frame)
                    counts["superseded"] += before - len(frame)
                if versioned is None:  # each id once per chunk, to find the ones in two chunks
                    seen.append(ids[np.concatenate(([True], ~repeated))] if len(ids) else ids)
                chunks += 1
                yield self._staged(stage_rows(frame, self.retailers, self.run_date, self.lookback_days), counts)
        if not chunks:  # an empty window is one empty chunk: the load still audits its days
            empty = normalize(_canonical(None))
            yield self._staged(stage_rows(empty, self.retailers, self.run_date, self.lookback_days), counts)
        if versioned is None:
            hashes = np.concatenate(seen) if seen else np.empty(0, dtype=np.int64)
            hashes.sort()
            self._versioned = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
            if len(self._versioned):
                raise ReadAgain(f"{len(self._versioned)} transaction(s) have versions in different chunks of the "
                                "window; the rows are read again, their latest versions staged last")
        elif held:
            versions = pd.concat(held, ignore_index=True)
            latest = latest_versions(versions)
            counts["superseded"] += len(versions) - len(latest)
            yield self._staged(stage_rows(latest, self.retailers, self.run_date, self.lookback_days), counts)
        self.counts = counts
        logger.info("transformation: %d rows received in chunks, %d loadable, %d quarantined "
                    "(%d superseded versions replaced by their latest)", counts["received"],
                    counts["loadable"], counts["quarantined"], counts["superseded"])

    @staticmethod
    def _staged(parts: tuple[pd.DataFrame, pd.DataFrame], counts: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
        counts["loadable"] += len(parts[0])
        counts["quarantined"] += len(parts[1])
        return parts


class QuarantineSide:
    """`stage_sales`'s second output for a streamed window: the quarantine rows travel with the
    staged rows of their chunk (`StagedChunks`), this names them for the pipeline's graph."""

    def __init__(self, staged: StagedChunks):
        self.staged = staged

    def __repr__(self) -> str:
        return f"quarantine of {self.staged!r}"


def load_chunks(staged: StagedChunks, build: Any) -> Iterator[dict[str, Any]]:
    """Each staged chunk as a load's chunk: `build(staged rows, quarantine rows)` is
    build_star_schema for the retailer; dim_retailer stays with the load."""
    for rows, held in staged:
        part = build(rows, held)
        yield {"facts": part["facts"], "quarantine": part["quarantine"], "audit": part["audit"],
               "dimensions": {k: v for k, v in part["dimensions"].items() if k != "dim_retailer"}}


class LoadChunks:
    """Re-iterable `load_chunks` (a generator could be read once only)."""

    def __init__(self, staged: StagedChunks, build: Any):
        self.staged, self.build = staged, build

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return load_chunks(self.staged, self.build)

    def __repr__(self) -> str:
        return f"load chunks of {self.staged!r}"
