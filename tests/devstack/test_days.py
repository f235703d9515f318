"""`python -m retail_pipeline.devstack days` (what `make seed` / `make run` read their days from):
user errors in one line naming the variable, the range printed, a long range only when confirmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from retail_pipeline.devstack.__main__ import MAX_DAYS_UNCONFIRMED, main


def _days(capsys, *argv):
    code = main(["days", *argv])
    out, err = capsys.readouterr()
    return code, out.split(), err.strip().splitlines()


def test_an_impossible_date_names_the_variable_and_the_fix(capsys):
    code, days, err = _days(capsys, "--start", "2024-02-30", "--end", "2024-03-02")
    assert code == 1 and days == []
    assert err == ["error: START=2024-02-30 is not a date: day is out of range for month. "
                   "Write it as YYYY-MM-DD, e.g. START=2024-01-15."]
    code, _, err = _days(capsys, "--end", "15/01/2024")
    assert code == 1 and len(err) == 1 and err[0].startswith("error: END=15/01/2024 is not a date")


def test_start_without_end_is_refused_when_long_and_says_until_yesterday(capsys):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    start = yesterday - timedelta(days=MAX_DAYS_UNCONFIRMED + 10)
    code, days, err = _days(capsys, "--start", start.isoformat())
    assert code == 1 and days == []
    assert "END not given: until yesterday" in err[0] and "YES=1" in err[0] and len(err) == 1

    code, days, err = _days(capsys, "--start", start.isoformat(), "--yes")
    assert code == 0 and days[0] == start.isoformat() and days[-1] == yesterday.isoformat()
    assert len(days) == MAX_DAYS_UNCONFIRMED + 11
    assert err == [f"days: {start} .. {yesterday} ({len(days)} days) (END not given: until yesterday, UTC)"]


def test_a_short_range_prints_its_days_and_the_range(capsys):
    code, days, err = _days(capsys, "--start", "2024-01-30", "--end", "2024-02-01")
    assert code == 0 and days == ["2024-01-30", "2024-01-31", "2024-02-01"]
    assert err == ["days: 2024-01-30 .. 2024-02-01 (3 days)"]
    code, days, err = _days(capsys, "--start", "2024-02-02", "--end", "2024-02-01")
    assert code == 1 and "START=2024-02-02 is after END=2024-02-01" in err[0]
