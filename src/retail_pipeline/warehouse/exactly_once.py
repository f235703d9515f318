"""Exactly once over all of history: fact_sales_key, fact_sales_changes and the loss guard.

fact_sales is partitioned by day and a load replaces whole window days, so on its own it could
hold one transaction on two days (corrected at the source from a day outside the window into
it) or lose lines silently (moved out of the window, a retailer-day purged at the source). In
the load's transaction, before the swap, this step:

1. compares what the window's days hold now with the load's lines (tmp_window_diff);
2. refuses the load when a retailer-day would lose more than `max_share` of its facts to lines
   the source no longer serves, unless the operator accepted that day (FactLossPolicy);
3. records every line leaving a window day in fact_sales_changes ('moved', 'quarantined',
   'disappeared') and keeps fact_sales_key in step;
4. moves lines whose key says they live on a day outside the window: deletes the old copy there
   (recorded as 'moved') and returns those days, whose marts the loader then recomputes.

The keys of lines new to the window are written while the facts stream (`ChunkKeys`) when the
window's days hold none of the load's facts, else after streaming (`maintain_keys`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

import psycopg2.errors
from kedro.io.core import DatasetError
from psycopg2 import sql

from retail_pipeline.warehouse.days import DayTable
from retail_pipeline.warehouse.sqlfiles import statement, text

DEFAULT_MAX_SHARE = 0.5


class FactLossRefused(DatasetError):
    """A window day would lose more of its facts than allowed; nothing was changed."""


@dataclass(frozen=True)
class FactLossPolicy:
    """How much of a retailer-day's facts a load may remove, and the days an operator accepted."""

    max_share: float = DEFAULT_MAX_SHARE
    accept_all: bool = False
    accepted: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (retailer_code, YYYY-MM-DD)

    @classmethod
    def from_load(cls, spec: dict[str, Any] | None) -> "FactLossPolicy":
        spec = spec or {}
        accept = parse_accepted(spec.get("accept"))
        share = float(spec.get("max_share", DEFAULT_MAX_SHARE))
        if not 0 <= share <= 1:
            raise DatasetError(f"warehouse.max_fact_loss_share must be between 0 and 1, got {share}.")
        return cls(share, accept is True, frozenset() if accept is True else frozenset(accept))

    def accepts(self, code: str, day: date) -> bool:
        return self.accept_all or (code, day.isoformat()) in self.accepted


def parse_accepted(value: Any) -> bool | set[tuple[str, str]]:
    """`accept_fact_loss`: true/false, or retailer:YYYY-MM-DD items (a list, or one string with the
    items separated by spaces or ';', since `kedro run --params` splits on commas)."""
    if value is None or value is False or value == "":
        return set()
    if value is True or (isinstance(value, str) and value.strip().lower() in ("true", "yes", "all")):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "none"):
        return set()
    items = value.replace(";", " ").split() if isinstance(value, str) else list(value)
    accepted = set()
    for item in items:
        code, _, day = str(item).strip().partition(":")
        try:
            accepted.add((code, date.fromisoformat(day.strip()).isoformat()))
        except ValueError:
            raise ValueError(
                f"accept_fact_loss item {item!r} is not retailer_code:YYYY-MM-DD (e.g. "
                "--params accept_fact_loss=<retailer_code>:2024-03-05, or accept_fact_loss=true for every day)."
            ) from None
    return accepted


# A COPY may extend a day table by more pages than it fills (PostgreSQL 16 extends in bulk): the
# last row is looked for in this many last blocks first.
MARK_TAIL_BLOCKS = 128
# A table no chunk keyed yet is read whole by a plain scan: unlike a TID Range Scan, a sequential
# scan of a table bigger than a quarter of shared_buffers goes through a small ring of buffers, so
# a load of frames (one chunk) does not push fact_sales_key's pages out of the cache (measured: a
# 1 M-line load into a 1 M-key history took ~1 s longer with the TID Range Scan).
FIRST = "(0,0)"
# Each chunk insert is a subtransaction (its savepoint). A session caches 64 of them; past that,
# every other session's snapshot looks the load's subtransactions up in pg_subtrans, slowing BI
# queries while the load runs. So a load takes at most this many, the last one in `finish`.
MAX_CHUNK_INSERTS = 48


class ChunkKeys:
    """fact_sales_key rows of the load's new lines, written chunk by chunk while the facts stream
    (keys_chunk.sql, right after each chunk's COPY), so the btree inserts run on the server while
    the client reads and builds the next chunk instead of after streaming, with the client idle.

    Only when the window's days hold none of the load's facts (`on`): the rule "on no window day
    now" is then free per chunk; against a full window it would read the window's facts once per
    chunk, so such a load writes its keys after streaming as before. Each chunk inserts under a
    savepoint; a unique violation (a line already lives on a day outside the window: it moved in)
    rolls that chunk back and stops the chunk inserts (`moved_in`): the slow path runs after
    streaming. Everything is in the load's transaction (and under stream.py's savepoint, so a
    ReadAgain rolls these inserts back with the day tables)."""

    def __init__(self, cur, tables: list[DayTable], retailer_ids: list[int]):
        self.scope = {"lo": min(t.date_id for t in tables), "hi": max(t.date_id for t in tables),
                      "retailer_ids": list(retailer_ids)}
        cur.execute(text("keys_window_empty"), self.scope)
        self.on: bool = cur.fetchone()[0]
        self.moved_in = False
        self.after = {t.stage: FIRST for t in tables}  # ctid of each table's last row keyed
        self.pending: dict[str, DayTable] = {}  # tables with rows not keyed yet
        self.inserts = 0  # savepoints taken
        self.inserted = 0  # keys written while streaming

    @property
    def written(self) -> bool:
        """Every line's key is in, or will be by `finish` (nothing left for the post-stream insert)."""
        return self.on and not self.moved_in

    def insert(self, cur, touched: list[DayTable], step: Callable[[str], None]) -> None:
        """The keys of the rows this chunk appended to `touched` (the day tables it wrote to); after
        MAX_CHUNK_INSERTS chunks, the rest wait for `finish`."""
        if self.written:
            self.pending.update((t.stage, t) for t in touched)
            if self.inserts < MAX_CHUNK_INSERTS - 1:
                self._insert(cur, step)

    def finish(self, cur, step: Callable[[str], None]) -> None:
        """After the last chunk: the keys of the rows no chunk insert took."""
        if self.written:
            self._insert(cur, step)

    def _insert(self, cur, step: Callable[[str], None]) -> None:
        if not self.pending:
            return
        touched = list(self.pending.values())
        selects = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT retailer_id, transaction_id, product_id, date_id FROM {}{}").format(
                sql.Identifier(t.stage), sql.SQL("") if self.after[t.stage] == FIRST else
                sql.SQL(" WHERE ctid > {}::tid").format(sql.Literal(self.after[t.stage]))) for t in touched)
        self.inserts += 1
        cur.execute("SAVEPOINT chunk_keys")
        try:
            cur.execute(statement("keys_chunk", selects=selects), self.scope)
        except psycopg2.errors.UniqueViolation:  # a line moved in: the slow path after streaming
            cur.execute("ROLLBACK TO SAVEPOINT chunk_keys")
            self.moved_in = True
        else:
            self.inserted += cur.rowcount
            for table in touched:
                self.after[table.stage] = _last_row(cur, table.stage, self.after[table.stage])
            self.pending.clear()
        cur.execute("RELEASE SAVEPOINT chunk_keys")
        step("keys: chunk")


def _last_row(cur, stage: str, after: str) -> str:
    """The ctid of a day table's last row (keys_chunk_mark.sql), `after` the previous mark."""
    cur.execute("SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", (stage,))
    blocks = cur.fetchone()[0]
    cur.execute(statement("keys_chunk_mark", stage=stage), {"from": f"({max(blocks - MARK_TAIL_BLOCKS, 0)},0)"})
    last = cur.fetchone()[0]
    if last is None:  # the last blocks are empty: read on from the previous mark
        cur.execute(statement("keys_chunk_mark", stage=stage), {"from": after})
        last = cur.fetchone()[0]
    return last or after


@dataclass
class KeyOutcome:
    other_date_ids: list[int]  # days outside the window that lost a line to a move
    changes: dict[str, int]    # change_kind -> lines this load recorded


def maintain_keys(cur, *, run_id: str, tables: list[DayTable], policy: FactLossPolicy, where: str,
                  step: Callable[[str], None], retailer_ids: list[int], chunk_keys: ChunkKeys) -> KeyOutcome:
    """Steps 1-4 of the module docstring for the load's retailers (`retailer_ids`: their facts and
    keys only, so loads of other retailers may run at the same time); needs tmp_quarantine
    staged. `chunk_keys`: the keys written while streaming (none, all, or up to a line that moved
    in). Returns what it changed."""
    lo, hi = min(t.date_id for t in tables), max(t.date_id for t in tables)
    scope = {"lo": lo, "hi": hi, "retailer_ids": list(retailer_ids)}
    selects = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT retailer_id, transaction_id, product_id, date_id FROM {}").format(sql.Identifier(t.stage))
        for t in tables)
    cur.execute(statement("new_lines", selects=selects))
    cur.execute(text("window_diff"), scope)
    cur.execute("ANALYZE tmp_window_diff")
    step("keys: window diff")

    cur.execute(text("loss_by_day"), scope)
    refused = [(code, day, lost, held) for code, day, held, lost in cur.fetchall()
               if lost > policy.max_share * held and not policy.accepts(code, day)]
    if refused:
        raise FactLossRefused(_refusal(refused, policy, where))

    cur.execute(text("changes_window"), {"run_id": run_id})
    cur.execute(text("keys_window"))
    other: set[int] = set()
    moved_in = chunk_keys.moved_in
    if not chunk_keys.on:  # not written while streaming: the fast path now
        cur.execute("SAVEPOINT keys_insert")
        try:
            cur.execute(statement("keys_insert", on_conflict=sql.SQL("")), scope)
            cur.execute("RELEASE SAVEPOINT keys_insert")
        except psycopg2.errors.UniqueViolation:  # a line already lives elsewhere: it moved into the window
            cur.execute("ROLLBACK TO SAVEPOINT keys_insert")
            moved_in = True
    if moved_in:
        other |= _move_in(cur, run_id, scope)
        cur.execute(statement("keys_insert", on_conflict=sql.SQL("ON CONFLICT (retailer_id, transaction_id) DO NOTHING")),
                    scope)
        step("keys: moves into the window")
    step("keys: insert")

    cur.execute(text("keys_check"), scope)
    if not cur.fetchone()[0]:  # keys out of step with the facts (edited by hand): repair
        other |= _move_in(cur, run_id, scope)
        cur.execute(text("keys_repair"), scope)
        cur.execute(text("keys_check"), scope)
        if not cur.fetchone()[0]:
            raise DatasetError(f"{where} failed, nothing was changed: fact_sales_key does not match the load's "
                               "lines after the key maintenance. Report it: the loader has a bug.")
    step("keys: check")
    cur.execute("DROP VIEW tmp_new_lines")
    cur.execute("SELECT change_kind, count(*) FROM fact_sales_changes WHERE run_id = %s GROUP BY 1", (run_id,))
    return KeyOutcome(sorted(other), dict(cur.fetchall()))


def _move_in(cur, run_id: str, scope: dict[str, Any]) -> set[int]:
    """Lines whose key names another day: delete the old copy on days outside the window (recorded
    as 'moved'), point the key at the new place. Returns those days."""
    cur.execute(text("keys_elsewhere"))
    cur.execute("SELECT DISTINCT from_date_id FROM tmp_moved_in WHERE from_date_id NOT BETWEEN %s AND %s",
                (scope["lo"], scope["hi"]))
    days = {row[0] for row in cur.fetchall()}
    for date_id in sorted(days):
        cur.execute(text("move_in"), {"from_date_id": date_id, "run_id": run_id,
                                      "retailer_ids": scope["retailer_ids"]})
    cur.execute(text("keys_moved_in"))
    return days


def _refusal(refused: list[tuple], policy: FactLossPolicy, where: str) -> str:
    days = "; ".join(f"{code} {day} would lose {lost} of its {held} facts ({lost / held:.0%})"
                     for code, day, lost, held in refused)
    accept = " ".join(f"{code}:{day}" for code, day, _, _ in refused)
    option = f"accept_fact_loss={accept}" if len(refused) == 1 else f'"accept_fact_loss={accept}"'
    return (f"{where} refused, nothing was changed: {days}, more than warehouse.max_fact_loss_share="
            f"{policy.max_share:.0%}; the source no longer serves them on any day of the window. Check the "
            f"source; if it really dropped them, rerun with --params {option} (or accept_fact_loss=true for "
            "every day).")
