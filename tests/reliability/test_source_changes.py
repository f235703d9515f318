"""Issue 9 item 2: rows lost when the source changes during paging.

A second actor (a thread with its own database connection) changes a retailer's table while
`RetailerApiDataset` pages through it. It is triggered by the API's fault-knob request counter
(`GET /_admin/faults`): once the second data request of the extraction has arrived (so the first
page was answered on the old data), the change commits while the latency knob holds that request,
so the remaining pages are read on the new data.

Required for every paging style (page number = retailer_1, offset = retailer_2, cursor =
retailer_3): every row that exists unchanged from before the extraction until its end is
extracted, once; rows that change are captured in their new state (here: the accepted extraction
equals the source after the change) or the run fails naming the retailer after a bounded number
of extractions. With the simulators' data-version header (`X-Data-Version`) and without it (a
retailer that offers no help: verified reread).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing

import psycopg2
import pytest
import requests
import yaml

from retail_pipeline.datasets.retailer_api import RetailerApiDataset, RetailerApiError
from retailers.common.registry import RETAILERS
from tests.fixtures.kedro_project import PROJECT_ROOT
from tests.retailers.client import ID, RECORDS, request

START, END = "2024-03-11", "2024-03-14"
ROWS_PER_DAY = 80          # 320 rows in the window ...
PAGE = 40                  # ... over 8 pages
LATENCY_MS = 250           # each data request is held this long before it reads the database
NO_HELP = {"version_header": None}
# A text column each retailer serves that is not part of the ordering key (in-place updates);
# the three flat-record styles (page number, offset, cursor).
NOTE = {"retailer_1": "payment_method", "retailer_2": "promotion_code", "retailer_3": "supplier_id"}
CODES = list(NOTE)
CREDENTIAL_KEYS = ("base_url", "api_key", "client_id", "client_secret")


SHARED = ("timeout", "retry", "deadline", "concurrency", "consistency")


def registry() -> dict:
    """The retailer registry, conf/base/retailers.yml."""
    return yaml.safe_load((PROJECT_ROOT / "conf/base/retailers.yml").read_text())["retailers"]


def shared_settings() -> dict:
    """How hard the API datasets try (timeouts, retries, consistency...), as the ingestion
    catalog declares them for every retailer."""
    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog_ingestion.yml").read_text())
    entry = catalog.get("{retailer}.api_sales") or catalog["_retailer_api"]
    return {key: entry[key] for key in SHARED if key in entry}


def small_pages(retailers: dict, page_size: int = PAGE) -> dict:
    """The registry with the test's page size for every retailer."""
    out = json.loads(json.dumps(retailers))
    for entry in out.values():
        if entry["api"]["paging"].get("page_size", 1) is not None:  # next_link: the server's size
            entry["api"]["paging"]["page_size"] = page_size
    return out


def api_dataset(code: str, apis: dict, consistency: dict | None = None) -> RetailerApiDataset:
    """The catalog's dataset for `code`, on the test API, the test window and small pages."""
    entry = shared_settings()
    entry.update(retailer=code, retailers=small_pages(registry()), window_start=START, window_end=END,
                 credentials={key: apis[code][key] for key in CREDENTIAL_KEYS if key in apis[code]})
    entry["retry"] = {**entry.get("retry", {}), "backoff_seconds": 0.05}
    if consistency is not None or "consistency" in entry:
        entry["consistency"] = {**(entry.get("consistency") or {}), "pause_seconds": 0.05, **(consistency or {})}
    return RetailerApiDataset(**entry)


def served_now(code: str, api: dict) -> list[str]:
    """The window as the API serves it in ONE request (one statement, so one snapshot):
    each record as canonical JSON text."""
    body = request(code, api, START, END, **({"page_size": 10_000} if code == "retailer_1" else {"limit": 10_000})).json()
    assert body["count"] == len(body[RECORDS[code]]) < 10_000
    return [json.dumps(record, sort_keys=True) for record in body[RECORDS[code]]]


def extracted(frame) -> list[str]:
    return [json.dumps(json.loads(text), sort_keys=True) for text in frame["source_record"]]


def request_count(api: dict) -> int:
    return requests.get(f"{api['base_url']}/_admin/faults", timeout=5).json()["requests"]


class SourceChanger:
    """A second actor: applies `change(cursor, n)` on the retailer's database when the API has
    seen `after` more data requests than at start, then (with `every_request`) once per further
    request. Bounded in time; stopped and joined on exit; its own errors fail the test."""

    def __init__(self, api: dict, dsn: str, change: Callable, after: int = 2, every_request: bool = False,
                 timeout_s: float = 60.0) -> None:
        self.api, self.dsn, self.change = api, dsn, change
        self.after, self.every_request, self.timeout_s = after, every_request, timeout_s
        self.applied_at: list[int] = []   # API request counter (relative) at each change
        self.changed_ids: set[str] = set()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="source-changer", daemon=True)

    def __enter__(self) -> SourceChanger:
        self._baseline = request_count(self.api)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the source changer did not stop"
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        seen = self.after - 1
        try:
            with closing(psycopg2.connect(self.dsn)) as conn:
                while not self._stop.is_set() and time.monotonic() < deadline:
                    count = request_count(self.api) - self._baseline
                    if count > seen:
                        with conn, conn.cursor() as cur:
                            self.changed_ids.update(self.change(cur, len(self.applied_at)))
                        self.applied_at.append(count)
                        if not self.every_request:
                            return
                        seen = count
                    time.sleep(0.005)
        except BaseException as exc:  # noqa: BLE001 - reported by __exit__
            self.error = exc


# -- the changes ---------------------------------------------------------------------------------
def _window_ids(cur, code: str) -> list[str]:
    s = RETAILERS[code]
    cur.execute(f'SELECT {s.id_column} FROM {s.table} WHERE "{s.ts_column}" >= %s::date '
                f'AND "{s.ts_column}" < %s::date + 1 ORDER BY "{s.ts_column}", {s.id_column}', (START, END))
    return [row[0] for row in cur.fetchall()]


def move_to_window_end(code: str, positions: list[int]) -> Callable:
    """Rows at these positions (of the old order) get a timestamp at the end of the window."""

    def change(cur, _n: int) -> list[str]:
        s = RETAILERS[code]
        ids = [_window_ids(cur, code)[p] for p in positions]
        for i, ident in enumerate(ids):
            cur.execute(f'UPDATE {s.table} SET "{s.ts_column}" = %s::timestamp + %s * interval \'1 second\' '
                        f"WHERE {s.id_column} = %s", (f"{END} 23:59:50", i, ident))
        return ids

    return change


def back_date(code: str, position: int) -> Callable:
    """The row at this position gets a timestamp at the very start of the window."""

    def change(cur, _n: int) -> list[str]:
        s = RETAILERS[code]
        ident = _window_ids(cur, code)[position]
        cur.execute(f'UPDATE {s.table} SET "{s.ts_column}" = %s WHERE {s.id_column} = %s',
                    (f"{START} 00:00:00", ident))
        return [ident]

    return change


def mixed(code: str) -> Callable:
    """In one transaction: three rows of the first page moved to the end, a copy of a row
    inserted before the read position, a row of the third page deleted, a later row updated
    in place."""

    def change(cur, _n: int) -> list[str]:
        s = RETAILERS[code]
        ids = _window_ids(cur, code)
        touched = move_to_window_end(code, [1, 5, 9])(cur, 0)
        cur.execute(f"CREATE TEMP TABLE copy_row ON COMMIT DROP AS SELECT * FROM {s.table} WHERE {s.id_column} = %s",
                    (ids[20],))
        cur.execute(f'UPDATE copy_row SET {s.id_column} = {s.id_column} || \'-NEW\', "{s.ts_column}" = %s',
                    (f"{START} 00:00:01",))
        cur.execute(f"INSERT INTO {s.table} SELECT * FROM copy_row")
        cur.execute(f"DELETE FROM {s.table} WHERE {s.id_column} = %s", (ids[2 * PAGE + 3],))
        cur.execute(f"UPDATE {s.table} SET {NOTE[code]} = 'changed mid-extraction' WHERE {s.id_column} = %s",
                    (ids[6 * PAGE + 7],))
        return [*touched, ids[20] + "-NEW", ids[2 * PAGE + 3], ids[6 * PAGE + 7]]

    return change


def touch_in_place(code: str, position: int) -> Callable:
    """An in-place update of one row, different every time: the source never holds still."""

    def change(cur, n: int) -> list[str]:
        s = RETAILERS[code]
        ident = _window_ids(cur, code)[position]
        cur.execute(f"UPDATE {s.table} SET {NOTE[code]} = %s WHERE {s.id_column} = %s", (f"edit-{n}", ident))
        return [ident]

    return change


# -- the checks ------------------------------------------------------------------------------------
def assert_nothing_lost(code: str, before: list[str], frame, changer: SourceChanger, after: list[str]) -> None:
    """Every row unchanged during the extraction is in the result exactly once, and the result
    is the source as it stands after the change (changed rows in their new state)."""
    # after the first page was answered, while the next request(s) wait on the latency knob
    assert len(changer.applied_at) == 1 and 2 <= changer.applied_at[0] <= 3, changer.applied_at
    got = Counter(extracted(frame))
    unchanged = [r for r in before if json.loads(r)[ID[code]] not in changer.changed_ids]
    assert len(unchanged) >= len(before) - len(changer.changed_ids)
    lost = [json.loads(r)[ID[code]] for r in unchanged if got[r] != 1]
    assert not lost, f"{code}: unchanged rows missing or doubled: {lost[:10]} ({len(lost)} in all)"
    assert got == Counter(after), f"{code}: the extraction is not the source after the change"


def extract_while_changing(code: str, apis, faults, change: Callable, consistency: dict | None = None):
    dataset = api_dataset(code, apis, consistency)
    before = served_now(code, apis[code])
    faults(code, latency_ms=LATENCY_MS)
    with SourceChanger(apis[code], apis[code]["dsn"], change) as changer:
        frame = dataset.load()
    faults(code, latency_ms=0)
    return before, frame, changer, served_now(code, apis[code])


# -- the scenarios -----------------------------------------------------------------------------------
def test_page_paging_three_rows_of_page_one_moved_to_the_end(retailer_apis, seed_retailers, retailer_faults):
    """(a) retailer_1: before the fix three unchanged rows (the first ones of page 2) were lost."""
    seed_retailers(START, END, rows_per_day=ROWS_PER_DAY, retailers=["retailer_1"])
    before, frame, changer, after = extract_while_changing(
        "retailer_1", retailer_apis, retailer_faults, move_to_window_end("retailer_1", [0, 1, 2]))
    assert_nothing_lost("retailer_1", before, frame, changer, after)
    stats = frame.attrs["extraction"]
    assert stats["consistency"] == "data_version" and stats["attempts"] == 2, stats
    assert stats["source_total"] == len(frame) == len(after)


def test_cursor_paging_a_row_back_dated_mid_extraction(retailer_apis, seed_retailers, retailer_faults):
    """(b) retailer_3: before the fix the back-dated row was in neither its old nor new place."""
    seed_retailers(START, END, rows_per_day=ROWS_PER_DAY, retailers=["retailer_3"])
    before, frame, changer, after = extract_while_changing(
        "retailer_3", retailer_apis, retailer_faults, back_date("retailer_3", 300))
    assert_nothing_lost("retailer_3", before, frame, changer, after)
    stats = frame.attrs["extraction"]
    assert stats["consistency"] == "data_version" and stats["attempts"] == 2, stats


def test_offset_paging_three_rows_of_page_one_moved_to_the_end(retailer_apis, seed_retailers, retailer_faults):
    """(c) retailer_2: the same shift as (a) under offset paging."""
    seed_retailers(START, END, rows_per_day=ROWS_PER_DAY, retailers=["retailer_2"])
    before, frame, changer, after = extract_while_changing(
        "retailer_2", retailer_apis, retailer_faults, move_to_window_end("retailer_2", [3, 4, 5]))
    assert_nothing_lost("retailer_2", before, frame, changer, after)
    stats = frame.attrs["extraction"]
    assert stats["consistency"] == "data_version" and stats["attempts"] == 2, stats


@pytest.mark.parametrize("code", CODES)
def test_without_the_version_header_every_unchanged_row_still_comes(code, retailer_apis, seed_retailers,
                                                                    retailer_faults):
    """(d) a retailer configured without the data-version header (no help from the API):
    moves, an insert, a delete and an in-place update mid-extraction; the verified reread
    extracts again until two extractions agree."""
    seed_retailers(START, END, rows_per_day=ROWS_PER_DAY, retailers=[code])
    before, frame, changer, after = extract_while_changing(code, retailer_apis, retailer_faults, mixed(code), NO_HELP)
    assert_nothing_lost(code, before, frame, changer, after)
    stats = frame.attrs["extraction"]
    assert stats["consistency"] == "verified_reread" and stats["attempts"] == 3, stats


@pytest.mark.parametrize("code", CODES)
def test_a_quiet_source_is_accepted_at_once_with_the_version_and_after_one_reread_without(
        code, retailer_apis, seed_retailers):
    seed_retailers(START, END, rows_per_day=ROWS_PER_DAY, retailers=[code])
    expected = Counter(served_now(code, retailer_apis[code]))
    frame = api_dataset(code, retailer_apis).load()
    stats = frame.attrs["extraction"]
    assert Counter(extracted(frame)) == expected
    assert (stats["consistency"], stats["attempts"], stats["pages"]) == ("data_version", 1, 8), stats
    assert stats["requests"] == 8
    frame = api_dataset(code, retailer_apis, NO_HELP).load()
    stats = frame.attrs["extraction"]
    assert Counter(extracted(frame)) == expected
    assert (stats["consistency"], stats["attempts"], stats["requests"]) == ("verified_reread", 2, 16), stats


def test_changes_outside_the_window_on_every_request_are_accepted_by_a_reread(retailer_apis, seed_retailers,
                                                                             retailer_faults):
    """The table's version moves with any write, also to days outside the window (a busy
    retailer's today): the version never holds, but two extractions agree, so the second is
    accepted without failing the run."""
    code = "retailer_2"
    seed_retailers("2024-03-10", END, rows_per_day=ROWS_PER_DAY, retailers=[code])
    s = RETAILERS[code]

    def outside(cur, n: int) -> list[str]:
        cur.execute(f"UPDATE {s.table} SET {NOTE[code]} = %s WHERE {s.id_column} = %s",
                    (f"edit-{n}", f"{s.id_prefix}-20240310-000001"))
        return []

    dataset = api_dataset(code, retailer_apis)
    before = served_now(code, retailer_apis[code])
    retailer_faults(code, latency_ms=50)
    with SourceChanger(retailer_apis[code], retailer_apis[code]["dsn"], outside, after=1,
                       every_request=True) as changer:
        frame = dataset.load()
    stats = frame.attrs["extraction"]
    assert len(changer.applied_at) >= 2
    assert Counter(extracted(frame)) == Counter(before)
    assert (stats["consistency"], stats["attempts"]) == ("verified_reread", 2), stats


@pytest.mark.parametrize("help_", ["data_version", "no_help"])
def test_a_source_that_never_holds_still_fails_naming_the_retailer(help_, retailer_apis, seed_retailers,
                                                                   retailer_faults):
    """(e) a row updated on every request: no two extractions agree and no version holds; after
    `max_attempts` extractions the load fails naming the retailer and the repair."""
    code = "retailer_1"
    seed_retailers(START, END, rows_per_day=ROWS_PER_DAY, retailers=[code])
    consistency = {"max_attempts": 3, **(NO_HELP if help_ == "no_help" else {})}
    dataset = api_dataset(code, retailer_apis, consistency)
    retailer_faults(code, latency_ms=100)
    with SourceChanger(retailer_apis[code], retailer_apis[code]["dsn"], touch_in_place(code, 150),
                       after=1, every_request=True) as changer, pytest.raises(RetailerApiError) as error:
        dataset.load()
    message = str(error.value)
    assert message.startswith(f"{code}: ") and "kept changing" in message and "3 extractions" in message
    assert "rerun" in message.splitlines()[-1]
    assert len(changer.applied_at) >= 3


def test_whole_run_accounts_for_every_row_when_the_source_changes_mid_extraction(
        kedro_project, warehouse, retailer_apis, retailer_databases, seed_retailers, retailer_faults):
    """(a) through Kedro: ingestion then transformation, retailer_1 changed mid-extraction; ends
    with the accounting check (served = raw + quarantine = facts + warehouse quarantine)."""
    from tests.reliability.accounting import assert_accounted

    seed_retailers(START, END, rows_per_day=ROWS_PER_DAY)
    kedro_project.write_yaml("local/credentials.yml", {
        "warehouse": {"con": warehouse.url},
        **{f"{code}_api": {key: api[key] for key in CREDENTIAL_KEYS if key in api}
           for code, api in retailer_apis.items()},
    })
    entries = {}
    for code in RETAILERS:
        entry = {**shared_settings(), "type": "retail_pipeline.datasets.retailer_api.RetailerApiDataset",
                 "retailer": code, "retailers": small_pages(registry()), "credentials": f"{code}_api",
                 "window_start": '${window_start:${runtime_params:run_date,""},${runtime_params:lookback_days,3}}',
                 "window_end": '${run_date:${runtime_params:run_date,""}}'}
        entry["consistency"] = {**(entry.get("consistency") or {}), "pause_seconds": 0.05}
        entries[f"{code}.api_sales"] = entry
    kedro_project.write_yaml("local/catalog_test_api.yml", entries)
    retailer_faults("retailer_1", latency_ms=LATENCY_MS)
    with SourceChanger(retailer_apis["retailer_1"], retailer_databases["retailer_1"],
                       move_to_window_end("retailer_1", [0, 1, 2]), timeout_s=300) as changer:
        kedro_project.run("ingestion", run_date=END, lookback_days=3)
    retailer_faults("retailer_1", latency_ms=0)
    assert len(changer.applied_at) == 1 and 2 <= changer.applied_at[0] <= 3, changer.applied_at
    kedro_project.run("transformation", run_date=END, lookback_days=3)
    assert_accounted(raw_root=kedro_project.data / "01_raw", warehouse_dsn=warehouse.dsn,
                     source_dsns=retailer_databases, start=START, end=END)
