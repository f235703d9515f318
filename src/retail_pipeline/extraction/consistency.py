"""When may an extraction be trusted although the source can change while it is paged?

Paging is a series of requests, each on whatever the source holds at that moment. A row moved,
inserted or deleted between two pages shifts what the later pages hold: offset and page-number
paging then skip unchanged rows (or repeat them), cursor paging misses a row moved behind the
cursor. So an extraction is accepted only on evidence that it saw one state of the source:

1. data version (`version_header`, e.g. the simulators' `X-Data-Version`): every page carried
   the same version, read by the API in the page's own snapshot. The version changes with every
   committed change to the table, so no change committed between the first and the last page:
   the pages together are exactly the window at that version. Accepted at once.
2. verified reread (the API gives no version, or the version moved): the extraction is repeated
   and accepted when its records equal the previous extraction's (as a multiset: the count and
   the sums of two independent 64-bit hashes of each record's JSON) and its own paging fields showed no change. A repeat whose
   own version held is accepted as in 1.

The version is the whole table's, so it also moves with writes outside the window (a busy
retailer's today); then 2 accepts the repeat that equals its predecessor. Either way an
extraction whose paging fields contradict each other (the total differs between pages, or the
records received differ from the total) is never accepted. After `max_attempts`
extractions without acceptance, `RetailerApiError` names the retailer: the source kept changing,
rerun. Only the fingerprint of the previous extraction is kept (three numbers), not its frames:
the pages of a walk stream on to ingestion as they come (datasets/retailer_api.py), and a walk
that is not accepted is discarded downstream (its staged files are dropped) and walked again.

Limits of 2 (no help from the API): two equal extractions are evidence, not proof; a change
undone between them and redone at the same place during both would fool it. The data version
has no such gap; use it where the API offers one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.frames import Page
from retail_pipeline.extraction.responses import VERSION

log = logging.getLogger(__name__)

DATA_VERSION = "data_version"
VERIFIED_REREAD = "verified_reread"
# Records hashed per query for the fingerprint (the pages' own record texts, held until then).
HASH_BATCH_ROWS = 25_000


@dataclass(frozen=True)
class Consistency:
    """The catalog's `consistency:` block (all optional)."""

    version_header: str | None = None  # response header with the table's data version
    max_attempts: int = 4              # extractions, the first included
    pause_seconds: float = 1.0         # before a repeat after a change; doubles, capped at 30 s

    @classmethod
    def from_config(cls, retailer: str, config: dict[str, Any] | None) -> Consistency:
        config = dict(config or {})
        unknown = set(config) - {"version_header", "max_attempts", "pause_seconds"}
        if unknown:
            raise RetailerApiError(f"{retailer}: unknown consistency option(s) {', '.join(sorted(unknown))}; "
                                   f"known: version_header, max_attempts, pause_seconds")
        policy = cls(**config)
        if int(policy.max_attempts) < 2:
            raise RetailerApiError(f"{retailer}: consistency.max_attempts must be >= 2 (a reread needs two "
                                   f"extractions), got {policy.max_attempts}")
        return policy


class Extraction:
    """What one walk's responses said about the source's state: counts, data versions, totals
    and a fingerprint of its records as a multiset (a few numbers, whatever the window's size,
    plus the texts of at most HASH_BATCH_ROWS records not hashed yet; the pages stream on)."""

    def __init__(self, total_field: str | None) -> None:
        self.pages = 0
        self.rows = 0
        self.records = 0  # source records served (orders, when orders are exploded into lines)
        self.orders_without_lines = 0
        self.total: int | None = None
        self._total_field = total_field
        self._versions: list[str | None] = []
        self._totals: set[int] = set()
        self._sums = [0, 0]  # of two independent 64-bit hashes of each record's JSON
        self._pending: list[pa.Array] = []  # source records not hashed yet (HASH_BATCH_ROWS at most)
        self._pending_rows = 0
        self._con: duckdb.DuckDBPyConnection | None = None  # opened at the first hash

    def add(self, body: dict, page: Page) -> None:
        self._versions.append(body.get(VERSION))
        total = body.get(self._total_field) if self._total_field else None
        if isinstance(total, int):
            self._totals.add(total)
        self.pages += 1
        self.rows += page.rows
        self.records += page.records
        self.orders_without_lines += page.orders_without_lines
        if page.rows:
            self._pending.append(page.source_record)
            self._pending_rows += page.rows
            if self._pending_rows >= HASH_BATCH_ROWS:
                self._hash()

    def _hash(self) -> None:
        """Add the pending records' hashes to the sums: one query for many pages (a query per
        page cost more than the hashing when pages are small)."""
        if not self._pending:
            return
        if self._con is None:
            self._con = duckdb.connect(config={"threads": 1})
        self._con.register("records", pa.table({"r": pa.chunked_array(self._pending, type=pa.large_string())}))
        first, second = self._con.sql("SELECT sum(hash(r)), sum(hash(r || chr(1))) FROM records").fetchall()[0]
        self._con.unregister("records")
        self._sums[0] += int(first)
        self._sums[1] += int(second)
        self._pending, self._pending_rows = [], 0

    @property
    def version(self) -> str | None:
        """The data version when every page carried the same one, else None."""
        versions = set(self._versions)
        return self._versions[0] if len(versions) == 1 and None not in versions else None

    def version_moved(self) -> str | None:
        """Why the data version says the table changed during this walk (perhaps outside the
        window: the version is the whole table's); None if it did not or is not served."""
        versions = [v for v in dict.fromkeys(self._versions) if v is not None]
        if len(versions) > 1:
            return f"the data version moved from {versions[0]} to {versions[-1]} while paging"
        return None

    def contradiction(self) -> str | None:
        """Why the window's own paging fields show it changed during this walk (then the walk is
        never accepted); None if they agree."""
        if len(self._totals) > 1:
            return f"the API's total changed while paging ({', '.join(map(str, sorted(self._totals)))})"
        if self.total is not None and self.records != self.total:
            return f"{self.records} records came but the API's total said {self.total}"
        return None

    def fingerprint(self) -> tuple[int, int, int]:
        """The records as a multiset: (rows, sum of one 64-bit hash of each record's JSON, sum of
        another). Two walks that served different records agree only if both sums collide
        (~2^-128), never because of their order."""
        self._hash()
        return self.rows, self._sums[0], self._sums[1]

    def release(self) -> None:
        self._pending, self._pending_rows = [], 0
        if self._con is not None:
            self._con.close()


class Verdict:
    """The judgement of one walk (`judge`): accepted (how) or why not, and the wait before a repeat."""

    def __init__(self, how: str | None, reason: str = "", known: bool = False, wait: float = 0.0,
                 digests: tuple[int, int, int] | None = None) -> None:
        self.how, self.reason, self.known, self.wait, self.digests = how, reason, known, wait, digests


def judge(extraction: Extraction, previous: tuple[int, int, int] | None, policy: Consistency,
          attempt: int) -> Verdict:
    """Is this walk (the `attempt`-th) to be trusted? `previous`: the fingerprint of the walk
    before (None for the first); the verdict carries this walk's for the next comparison."""
    contradiction = extraction.contradiction()
    if contradiction is None and policy.version_header and extraction.version is not None:
        return Verdict(DATA_VERSION)
    digests = extraction.fingerprint()
    agrees = previous is not None and previous == digests
    if contradiction is None and agrees:
        return Verdict(VERIFIED_REREAD)
    differs = None if previous is None or agrees else (
        f"its records differ from the previous extraction's ({previous[0]} -> {digests[0]} records)")
    known = [r for r in (contradiction, extraction.version_moved(), differs) if r]
    # Nothing known to have changed (first extraction, no version): reread at once to compare.
    reason = "; ".join(known) or (
        f"no {policy.version_header} header on every page" if policy.version_header else "no data version")
    wait = min(float(policy.pause_seconds) * 2 ** (attempt - 1), 30.0) if known else 0.0
    return Verdict(None, reason, bool(known), wait, digests)


def kept_changing(retailer: str, attempts: int, what: str, reason: str) -> RetailerApiError:
    return RetailerApiError(
        f"{retailer}: the source kept changing during extraction: {attempts} extractions of {what} and "
        f"none consistent (last: {reason}). Rows could have been missed, so nothing was ingested; "
        f"rerun when the retailer's data holds still (or raise consistency.max_attempts)."
    )
