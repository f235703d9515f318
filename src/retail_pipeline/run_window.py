"""The run date and its look-back window.

`run_date` arrives as a runtime parameter (`kedro run --params run_date=YYYY-MM-DD`) and
defaults to yesterday in UTC. The same functions back the config resolvers registered in
`settings.py`, so the catalog, the parameters and the hooks agree on one definition.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

from retail_pipeline.user_errors import UserError

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InvalidRunDate(UserError, ValueError):
    """A run date that is not a real calendar date written as YYYY-MM-DD."""


def parse_run_date(value: object) -> date:
    """Parse a run date strictly; empty means yesterday (UTC)."""
    if value is None or value == "":
        return datetime.now(UTC).date() - timedelta(days=1)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not _ISO_DATE.match(text):
        raise InvalidRunDate(
            f"run_date must be a date written as YYYY-MM-DD, got {value!r}; "
            f"e.g. --params run_date={_example()}"
        )
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRunDate(
            f"run_date {text!r} is not a real date ({exc}); give one as YYYY-MM-DD, "
            f"e.g. --params run_date={_example()}"
        ) from None


def _example() -> str:
    """Yesterday (UTC), the default run date: an example that always has data after `make run`."""
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def resolve_run_date(value: object = "") -> str:
    """Config resolver `${run_date:...}`: the validated run date as YYYY-MM-DD."""
    return parse_run_date(value).isoformat()


def window_start(run_date: object = "", lookback_days: object = 3) -> str:
    """Config resolver `${window_start:run_date,lookback_days}`: first day of the window."""
    try:
        days = int(lookback_days)
    except (TypeError, ValueError):
        days = -1
    if days < 0:
        raise InvalidRunDate(f"lookback_days must be a whole number of days >= 0, got {lookback_days!r}; "
                             "e.g. --params lookback_days=3")
    return (parse_run_date(run_date) - timedelta(days=days)).isoformat()


def window_dates(start: object, end: object) -> list[date]:
    """Every calendar day from start to end, both inclusive."""
    first, last = parse_run_date(start), parse_run_date(end)
    if last < first:
        raise ValueError(f"window end {last} is before its start {first}")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def resolve_ingested_at(value: object = "") -> str:
    """Config resolver `${ingested_at:...}`: when the run ingests, as YYYY-MM-DDTHH:MM:SSZ.

    Empty means now (UTC), read once when the run's parameters are read; a given value (e.g. a
    replay stamped as the original run: `--params ingested_at=2024-01-16T02:00:00Z`) must be a
    UTC time in that form. Nodes take it as a parameter: they never read the clock.
    """
    if value is None or value == "":
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value).strip()
    try:
        valid = bool(_ISO_UTC.match(text)) and datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ") is not None
    except ValueError:
        valid = False
    if not valid:
        raise InvalidRunDate(f"ingested_at must be a UTC time written as YYYY-MM-DDTHH:MM:SSZ, got {value!r}; "
                             "leave it out to use the time of the run")
    return text


def new_run_id() -> str:
    """Config resolver `${new_run_id:}`: a sortable id for one run (UTC time + random suffix)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
