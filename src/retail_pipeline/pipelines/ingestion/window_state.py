"""What a retailer's window needs to remember while its chunks stream past: the transaction
ids already met (for the window-wide duplicate rule) and the counts of the manifest.

Both are bounded by the window's size, never by its bytes: `SeenIds` keeps 16 bytes an id
(two independent 64-bit hashes: ~160 MB at 10,000,000 ids; a false duplicate needs both to
collide, ~n^2/2^129, about 1e-25 at that size) and a 16 MB bitmap, `WindowTally` a few numbers
per day and reason kind. Everything else of a chunk is gone when the next one comes.
"""

from __future__ import annotations

from collections import Counter

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa


# Runs are merged up to this many ids (16 MB of hashes): a merge then never needs more than
# twice that beside the set, and a lookup searches ~n / MAX_RUN runs.
MAX_RUN = 1 << 20
# A bitmap of 2^FILTER_BITS bits (16 MB) on the first hash in front of the runs: an id whose bit
# is clear was not met, so only ~7% of a chunk's ids at 10,000,000 (fewer below) are searched,
# and a chunk's lookup stays linear in the chunk instead of growing with the window.
FILTER_BITS = 27


def _merge(a1: np.ndarray, b1: np.ndarray, a2: np.ndarray, b2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted runs (a sorted, b aligned) as one, in linear time."""
    at = np.searchsorted(a1, a2, side="right") + np.arange(len(a2))  # a2's places in the result
    first = np.ones(len(a1) + len(a2), dtype=bool)
    first[at] = False
    a, b = np.empty(len(first), dtype=a1.dtype), np.empty(len(first), dtype=b1.dtype)
    a[at], b[at] = a2, b2
    a[first], b[first] = a1, b1
    return a, b


class SeenIds:
    """Transaction ids of the window's earlier chunks, as sorted runs of hash pairs.

    A run per chunk, merged with its neighbour while it is at least as large (a binary
    counter) up to MAX_RUN ids, so adding n ids costs O(n log n). Only the ids whose bit is
    set in the bitmap (met before, or a false positive) are looked up: one binary search per
    run (log2 of the chunks per MAX_RUN, plus n / MAX_RUN).
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (a sorted, b aligned)
        self._filter = np.zeros(1 << (FILTER_BITS - 3), dtype=np.uint8)
        self._con = duckdb.connect(config={"threads": 1})

    def __len__(self) -> int:
        return sum(len(a) for a, _ in self._runs)

    @property
    def nbytes(self) -> int:
        return self._filter.nbytes + sum(a.nbytes + b.nbytes for a, b in self._runs)

    def _hashes(self, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        table = pa.table({"i": pa.array(ids, type=pa.large_string(), from_pandas=True)})
        self._con.register("ids", table)
        try:
            out = self._con.sql("SELECT hash(i) AS a, hash(i || chr(1)) AS b FROM ids").fetchnumpy()
        finally:
            self._con.unregister("ids")
        return np.asarray(out["a"], dtype="uint64"), np.asarray(out["b"], dtype="uint64")

    def met_before(self, ids: pd.Series) -> np.ndarray:
        """Per row: its (non-null) id was met in an earlier chunk; then remembers the chunk's ids."""
        present = ids.notna().to_numpy()
        met = np.zeros(len(ids), dtype=bool)
        if not present.any():
            return met
        a_all, b_all = self._hashes(ids[present])
        byte, bit = self._filter_slots(a_all)
        maybe = (self._filter[byte] & bit) != 0
        positions = np.flatnonzero(present)[maybe]
        order = np.argsort(a_all[maybe], kind="stable")  # sorted needles search a run cache-friendly
        positions, a, b = positions[order], a_all[maybe][order], b_all[maybe][order]
        for run_a, run_b in self._runs:
            at = np.searchsorted(run_a, a)
            inside = at < len(run_a)
            hit = np.zeros(len(a), dtype=bool)
            hit[inside] = run_a[at[inside]] == a[inside]
            for k in np.flatnonzero(hit):  # same first hash: compare the second, over equal ones
                j, found = int(at[k]), False
                while j < len(run_a) and run_a[j] == a[k] and not found:
                    found = run_b[j] == b[k]
                    j += 1
                met[positions[k]] |= found
        self._add(a_all, b_all)
        np.bitwise_or.at(self._filter, byte, bit)
        return met

    @staticmethod
    def _filter_slots(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each first hash's byte of the bitmap and its bit in that byte, from its low bits."""
        slot = a & np.uint64((1 << FILTER_BITS) - 1)
        return (slot >> np.uint64(3)).astype(np.intp), np.left_shift(1, slot & np.uint64(7)).astype(np.uint8)

    def _add(self, a: np.ndarray, b: np.ndarray) -> None:
        order = np.argsort(a, kind="stable")
        self._runs.append((a[order], b[order]))
        del order
        while (len(self._runs) > 1 and len(self._runs[-1][0]) >= len(self._runs[-2][0])
               and len(self._runs[-1][0]) + len(self._runs[-2][0]) <= MAX_RUN):
            (a2, b2), (a1, b1) = self._runs.pop(), self._runs.pop()
            self._runs.append(_merge(a1, b1, a2, b2))

    def close(self) -> None:
        self._runs.clear()
        self._filter = np.zeros(0, dtype=np.uint8)
        self._con.close()


class WindowTally:
    """The manifest's counts, summed over the window's chunks (exact: money in whole cents)."""

    def __init__(self, days: list[str]) -> None:
        self.days = days
        self.received = 0
        self.per_day = {day: [0, 0, 0] for day in days}  # written, quarantined, cents written
        self.kinds: Counter = Counter()

    def add(self, counts: dict) -> None:
        self.received += counts["rows_received"]
        for day, (written, held, cents) in counts["per_day"].items():
            slot = self.per_day.setdefault(day, [0, 0, 0])
            slot[0] += written
            slot[1] += held
            slot[2] += cents
        self.kinds.update(counts["reasons_by_kind"])

    def summary(self) -> dict:
        """The manifest's counts: totals, reasons by kind and one entry per window day."""
        per_day = [{"sale_date": day, "rows_received": w + q, "rows_written": w, "rows_quarantined": q,
                    "total_amount_written": round(c / 100, 2)}
                   for day, (w, q, c) in ((day, self.per_day[day]) for day in self.days)]
        written = sum(d["rows_written"] for d in per_day)
        held = sum(d["rows_quarantined"] for d in per_day)
        if written + held != self.received:  # pragma: no cover - invariant
            raise AssertionError(f"rows lost in the split: {self.received} received, {written} + {held}")
        return {"rows_received": self.received, "rows_written": written, "rows_quarantined": held,
                "reasons_by_kind": dict(sorted(self.kinds.items())), "days": per_day}


__all__ = ["SeenIds", "WindowTally"]
