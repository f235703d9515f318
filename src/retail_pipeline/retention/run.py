"""One retention run: check the look-back rule, then plan (dry run) or remove, warehouse first,
then the zones, every removal audited."""

from __future__ import annotations

import json
import logging
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from retail_pipeline.retention import warehouse
from retail_pipeline.retention.config import PROJECT_ROOT, Settings
from retail_pipeline.retention.rules import (
    Item,
    backfill_todo,
    check_cutoff,
    cutoff_day,
    pending_runs,
)
from retail_pipeline.retention.zones import Zones

log = logging.getLogger(__name__)
BACKFILL_DIR = PROJECT_ROOT / "data" / "02_intermediate" / "backfill"  # retail_pipeline.backfill.STATE_DIR


@dataclass
class Report:
    run_id: str
    today: date
    keep_days: int
    cutoff: date
    dry_run: bool
    items: list[Item] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        head = (f"Retention {self.run_id}{' (dry run)' if self.dry_run else ''}: keep_days {self.keep_days}, "
                f"today {self.today}: {verb} every day before {self.cutoff}.")
        body = [f"  {item.kind:<38} {item.retailer_code or '-':<12} {item.day}  {item.removed:>8}  {item.target}"
                for item in self.items]
        return [head, *body, f"{len(self.items)} item(s) {verb}" + ("" if self.items else " (nothing is that old)") + "."]


def backfill_days(folder: Path, identity: str, lookback_days: int) -> list[tuple[date, int, str]]:
    """(day, lookback, file) of every day the unfinished backfills of this warehouse still have to do."""
    days = []
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            log.warning("retention: cannot read the backfill state %s; ignored", path)
            continue
        todo = backfill_todo(state, identity, lookback_days) if isinstance(state, dict) else None
        if todo:
            days += [(day, todo[1], str(path)) for day in todo[0]]
    return days


def retention(settings: Settings, keep_days: int | None = None, *, today: date | None = None, dry_run: bool = False,
              backfill_dir: Path | str = BACKFILL_DIR, run_id: str | None = None) -> Report:
    """Remove (or, with dry_run, list) everything older than keep_days; raises RetentionRefused
    (nothing removed) when a run still to be run needs a day that would go."""
    keep = settings.keep_days if keep_days is None else keep_days
    today = today or datetime.now(UTC).date()
    cutoff = cutoff_day(today, keep)
    run_id = run_id or f"retention-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    scope = warehouse.Scope(cutoff, keep, run_id, settings.lock_timeout)
    zones = Zones(settings.raw_zone, settings.raw_zone_credentials)
    report = Report(run_id, today, keep, cutoff, dry_run)
    with closing(warehouse.connect(settings.warehouse_con)) as conn:
        pending = pending_runs(today, settings.lookback_days,
                               warehouse.last_loaded(conn, list(settings.retailers)),
                               backfill_days(Path(backfill_dir), warehouse.identity(conn), settings.lookback_days))
        check_cutoff(cutoff, pending, today, keep)
        if dry_run:
            report.items = warehouse.plan(conn, scope) + list(zones.days_before(cutoff))
            return report
        report.items = warehouse.remove(conn, scope)
    zone_items = zones.remove(zones.days_before(cutoff))
    warehouse.record_zones(settings.warehouse_con, zone_items, scope)
    report.items += zone_items
    return report
