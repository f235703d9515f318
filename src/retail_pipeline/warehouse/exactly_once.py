"""Exactly once over all of history: fact_sales_id_range, fact_sales_changes and the loss guard.

fact_sales is partitioned by day and a load replaces whole window days, so on its own it could
hold one transaction on two days (corrected at the source from a day outside the window into
it) or lose lines silently (moved out of the window, a retailer-day purged at the source). In
the load's transaction, before the swap, this step:

1. compares what the window's days hold now with the load's lines (tmp_window_diff);
2. refuses the load when a retailer-day would lose more than `max_share` of its facts to lines
   the source no longer serves, unless the operator accepted that day (FactLossPolicy);
3. records every line leaving a window day in fact_sales_changes ('moved', 'quarantined',
   'disappeared');
4. finds the load's lines that live on a day outside the window, reading only the days whose
   id range (fact_sales_id_range, 016_fact_sales_id_ranges.sql) overlaps the load's: deletes
   the old copy there (recorded as 'moved') and returns those days, whose marts the loader then
   recomputes;
5. refuses a load holding a line on two of its own days, and replaces the window days' ranges.

No step writes a row per line: the facts are the ledger, the ranges say where to look.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

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


@dataclass
class KeyOutcome:
    other_date_ids: list[int]  # days outside the window that lost a line to a move
    changes: dict[str, int]    # change_kind -> lines this load recorded
    looked_up: list[int]       # days outside the window whose id range overlapped the load's


def maintain_exactly_once(cur, *, run_id: str, tables: list[DayTable], policy: FactLossPolicy, where: str,
                          step: Callable[[str], None], retailer_ids: list[int]) -> KeyOutcome:
    """Steps 1-5 of the module docstring for the load's retailers (`retailer_ids`: their facts and
    ranges only, so loads of other retailers may run at the same time); needs tmp_quarantine
    staged. Returns what it changed."""
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

    cur.execute(text("id_ranges_new"))
    cur.execute(text("window_overlaps"))
    if cur.fetchone()[0]:
        cur.execute(text("window_duplicates"))
        twice = cur.fetchall()
        if twice:
            raise DatasetError(f"{where} failed, nothing was changed: lines on two of its days ("
                               + "; ".join(f"{code} {tx!r} on {days}" for code, tx, days in twice)
                               + "). Staging keeps one version of a transaction: report it, the loader has a bug.")
    step("keys: id ranges")

    cur.execute(text("id_ranges_elsewhere"), scope)
    days = [row[0] for row in cur.fetchall()]
    other: set[int] = set()
    if days:
        other = _move_in(cur, run_id, {**scope, "days": days})
    step("keys: days elsewhere")
    cur.execute(text("id_ranges_replace"), scope)
    cur.execute("DROP VIEW tmp_new_lines")
    cur.execute("SELECT change_kind, count(*) FROM fact_sales_changes WHERE run_id = %s GROUP BY 1", (run_id,))
    return KeyOutcome(sorted(other), dict(cur.fetchall()), days)


def _move_in(cur, run_id: str, scope: dict[str, Any]) -> set[int]:
    """The load's lines found on `scope["days"]` (outside the window): their old copy deleted there
    (recorded as 'moved'). Returns the days that lost a line."""
    cur.execute(text("lines_elsewhere"), scope)
    cur.execute("SELECT DISTINCT from_date_id FROM tmp_moved_in ORDER BY 1")
    moved_from = {row[0] for row in cur.fetchall()}
    for date_id in sorted(moved_from):
        cur.execute(text("move_in"), {"from_date_id": date_id, "run_id": run_id,
                                      "retailer_ids": scope["retailer_ids"]})
    cur.execute("DROP TABLE tmp_moved_in")
    return moved_from


def _refusal(refused: list[tuple], policy: FactLossPolicy, where: str) -> str:
    days = "; ".join(f"{code} {day} would lose {lost} of its {held} facts ({lost / held:.0%})"
                     for code, day, lost, held in refused)
    accept = " ".join(f"{code}:{day}" for code, day, _, _ in refused)
    option = f"accept_fact_loss={accept}" if len(refused) == 1 else f'"accept_fact_loss={accept}"'
    return (f"{where} refused, nothing was changed: {days}, more than warehouse.max_fact_loss_share="
            f"{policy.max_share:.0%}; the source no longer serves them on any day of the window. Check the "
            f"source; if it really dropped them, rerun with --params {option} (or accept_fact_loss=true for "
            "every day).")
