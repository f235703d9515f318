"""The rules of retention, as pure functions: which days go, which runs still need which days,
and what a zone path or a backfill state file says. No I/O here (unit-tested in
tests/retention/test_rules.py).

- `keep_days` N keeps every day from `today - N` on; the days before that cutoff go.
- A run for run date D reads (and rewrites) D - lookback_days .. D. A day that a run still to
  be run will read must stay: retention refuses, naming the day, rather than remove it.
  Runs still to be run (`pending_runs`): the next daily run (run date = yesterday, the default
  run date and the Airflow logical date of today's run); for a retailer of the registry whose
  last load covered day L before yesterday, every run date from L + 1 (the days Airflow or a
  backfill still has to load); every day an unfinished backfill of this warehouse has not done.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from retail_pipeline.user_errors import UserError

ZONES = ("raw", "quarantine", "landing")
_DAY_PATH = re.compile(r"^(?P<code>[^/]+)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/day=(?P<d>\d{2})(?:/|$)")
_MANIFEST_PATH = re.compile(r"^(?P<code>[^/]+)/run_date=(?P<day>\d{4}-\d{2}-\d{2})(?:/|$)")


class RetentionRefused(UserError):
    """Retention would remove a day that a run still to be run needs; nothing was removed."""


@dataclass(frozen=True, order=True)
class Item:
    """One thing retention removes: a fact partition, a table's rows of one retailer and day, a
    zone day's files. `removed` counts rows (files for a zone day)."""

    kind: str
    retailer_code: str | None
    day: date
    target: str
    removed: int

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "day": self.day.isoformat()}


@dataclass(frozen=True)
class PendingRun:
    """A run still to be run: it will read run_date - lookback_days .. run_date."""

    run_date: date
    lookback_days: int
    why: str

    @property
    def window_start(self) -> date:
        return self.run_date - timedelta(days=self.lookback_days)


def cutoff_day(today: date, keep_days: int) -> date:
    """The first day kept: days before it are removed."""
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 0:
        raise UserError(f"keep_days must be a whole number of days >= 0, got {keep_days!r}; e.g. --keep-days 400")
    return today - timedelta(days=keep_days)


def pending_runs(today: date, lookback_days: int, last_loaded: dict[str, date | None],
                 backfill_days: list[tuple[date, int, str]]) -> list[PendingRun]:
    """Every run still to be run that reaches furthest back for its reason (see the module
    docstring). `last_loaded`: registry retailer -> last day its loads covered (None: never
    loaded, nothing of it to protect); `backfill_days`: (day, lookback_days, state file) of
    every day an unfinished backfill has still to do."""
    yesterday = today - timedelta(days=1)
    runs = [PendingRun(yesterday, lookback_days, "the next daily run")]
    for code, last in sorted(last_loaded.items()):
        if last is not None and last + timedelta(days=1) < yesterday:
            runs.append(PendingRun(last + timedelta(days=1), lookback_days,
                                   f"{code} was last loaded for {last}, so the runs from "
                                   f"{last + timedelta(days=1)} to {yesterday} are still to be run"))
    for day, lookback, source in sorted(backfill_days):
        runs.append(PendingRun(day, lookback, f"the unfinished backfill {source} has still to run it"))
    return runs


def check_cutoff(cutoff: date, runs: list[PendingRun], today: date, keep_days: int) -> None:
    """Refuse a cutoff that would remove a day a pending run reads: name the earliest such day,
    the run, and the smallest keep_days that passes."""
    blocked = [run for run in runs if run.window_start < cutoff]
    if not blocked:
        return
    run = min(blocked, key=lambda r: (r.window_start, r.run_date))
    needed = (today - min(r.window_start for r in runs)).days
    raise RetentionRefused(
        f"Retention refused: {run.window_start} is inside the look-back window {run.window_start}..{run.run_date} "
        f"of the run for {run.run_date} (lookback_days {run.lookback_days}), still to be run: {run.why}. "
        f"keep_days {keep_days} would remove every day before {cutoff}. Keep at least {needed} days "
        f"(--keep-days {needed}), or run the pending runs first. Nothing was removed.")


def backfill_todo(state: dict[str, Any], warehouse: str, default_lookback: int) -> tuple[list[date], int] | None:
    """(days still to do, their lookback) of a backfill state file (retail_pipeline.backfill),
    or None when it belongs to another warehouse (a backfill there redoes every day anyway)."""
    recorded = state.get("warehouse")
    if recorded and recorded != warehouse:
        return None
    try:
        start, end = date.fromisoformat(state["start"]), date.fromisoformat(state["end"])
    except (KeyError, TypeError, ValueError):
        return None
    done = set(state.get("done") or {})
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    lookback = state.get("lookback_days")
    lookback = lookback if isinstance(lookback, int) and lookback >= 0 else default_lookback
    return [d for d in days if d.isoformat() not in done], lookback


def zone_day(relative: str) -> tuple[str, date] | None:
    """(retailer, day) of a path under a zone (`<code>/year=YYYY/month=MM/day=DD/...`), else None."""
    found = _DAY_PATH.match(relative)
    if not found:
        return None
    try:
        return found["code"], date(int(found["y"]), int(found["m"]), int(found["d"]))
    except ValueError:
        return None


def manifest_day(relative: str) -> tuple[str, date] | None:
    """(retailer, run date) of a path under manifests/ (`<code>/run_date=YYYY-MM-DD/...`), else None."""
    found = _MANIFEST_PATH.match(relative)
    if not found:
        return None
    try:
        return found["code"], date.fromisoformat(found["day"])
    except ValueError:
        return None


def day_prefix(zone: str, code: str, day: date) -> str:
    """A zone day's folder, relative to the zone root."""
    if zone == "manifests":
        return f"manifests/{code}/run_date={day.isoformat()}/"
    return f"{zone}/{code}/year={day.year:04d}/month={day.month:02d}/day={day.day:02d}/"


def summary(items: list[Item]) -> dict[str, tuple[int, int]]:
    """kind -> (items, rows or files removed)."""
    out: dict[str, tuple[int, int]] = {}
    for item in items:
        count, total = out.get(item.kind, (0, 0))
        out[item.kind] = (count + 1, total + item.removed)
    return dict(sorted(out.items()))
