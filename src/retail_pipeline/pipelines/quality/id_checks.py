"""Reconciliation by ids, not only counts: a lost row and a doubled one cannot cancel out.

* `reconciliation_source_ids`: the quality pipeline reads each retailer's window from its API
  again (`<code>.api_sales`, the dataset ingestion uses) and compares, per day, the multiset of
  transaction ids served with the ids in the raw + quarantine zone files. The ids are trimmed
  and dated by ingestion's own `normalize_sales`, and a row without a business date in the
  window is expected in the run date's quarantine partition, as ingestion files it.
* `reconciliation_warehouse_ids`: per day, the ids of the raw zone files = the ids of the fact
  lines + the ids of the warehouse-quarantined rows (sql/quality/warehouse_ids.sql).

A retailer without a manifest for the run date (its extraction failed) is not read again: its
API may be what failed. Its `reconciliation_source_ids` fails as "not checked".

Each day also gets a checksum of its ids: the sum over rows of the first 60 bits of md5(id) as
an integer, the same number PostgreSQL gives for
``sum(('x' || left(md5(transaction_id), 15))::bit(60)::bigint)``, so an operator can compare a
day anywhere without moving the ids.

The ids come as frames or, in a run, as the Arrow datasets of `IdFilesDataset` (files written
chunk by chunk by the generator nodes `source_ids` and `summarize_zone`); DuckDB counts them
(`_ids_db`), so no side of a big day is ever held in memory whole.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pandas as pd
import pyarrow.dataset as ds

from retail_pipeline.datasets.id_files import IdsNotRead
from retail_pipeline.run_window import parse_run_date, window_start, window_dates
from retail_pipeline.warehouse.sqlfiles import SqlFolder

from .reconciliation import NoManifest
from .results import check_cfg, days_text, frame, result

_ID_COLUMNS = ["sale_date", "transaction_id"]


# The re-read's rows are never stored: only their ids and dates leave `source_ids`.
_REREAD_INGESTED_AT = "1970-01-01T00:00:00Z"


def source_ids(api_sales: Any, retailer: dict[str, Any], run_date: str,
               lookback_days: Any, ingested: Any = None) -> Iterator[pd.DataFrame | dict[str, int] | IdsNotRead]:
    """The ids a retailer's API serves for the window, per day, as ingestion would file them.

    Uses ingestion's `normalize_sales` with the retailer's registry entry (field mapping,
    composite ids, trimming, timestamps and local dates), then its partition rule: a row dated
    outside the window, or not dated at all, is filed on the run date (in quarantine). A
    generator node: yields a frame (sale_date, transaction_id) per chunk of the source, a
    missing id being '', which the catalog appends to files (IdFilesDataset); and
    {"begin": n} when the source is walked again (what the earlier walk gave is void).
    `api_sales` is the whole window or the stream of its chunks. `ingested` (the retailer's
    manifest as read after its ingestion) orders the re-read after the ingestion; when it is
    `NoManifest` the source is not iterated (a lazy stream asks nothing of the API) and only
    `IdsNotRead` is yielded.
    """
    if isinstance(ingested, NoManifest):
        yield IdsNotRead("no ingestion manifest")
        return
    end = parse_run_date(run_date)
    days = [d.isoformat() for d in window_dates(window_start(end.isoformat(), lookback_days), end)]
    if isinstance(api_sales, pd.DataFrame):
        yield _source_ids(api_sales, retailer, days, end.isoformat())
        return
    from retail_pipeline.extraction.stream import Attempt, Extracted

    # an empty first part: a source that sends nothing still leaves an (empty) set of ids
    yield pd.DataFrame({"sale_date": pd.Series([], dtype=object), "transaction_id": pd.Series([], dtype=object)})
    for event in api_sales:  # a stream of chunks (RetailerApiDataset with chunk_rows)
        if isinstance(event, Attempt):
            yield {"begin": event.number}
        elif not isinstance(event, Extracted):
            yield _source_ids(event, retailer, days, end.isoformat())


def _source_ids(api_sales: pd.DataFrame, retailer: dict[str, Any], days: list[str], run_date: str) -> pd.DataFrame:
    from retail_pipeline.pipelines.ingestion.nodes import normalize_sales

    normalized, _ = normalize_sales(api_sales, retailer, "quality-reread", _REREAD_INGESTED_AT)
    sale_date = normalized["sale_date"].astype("str")
    sale_date = sale_date.where(sale_date.isin(days), run_date)
    ids = normalized["transaction_id"].astype("str")
    return pd.DataFrame({"sale_date": sale_date.to_numpy(dtype=object),
                         "transaction_id": ids.where(ids.notna(), "").to_numpy(dtype=object)})


_SQL = SqlFolder("quality/ids", "The quality id checks'")


def _register(con: duckdb.DuckDBPyConnection, side: str, ids: Any, zone: str | None = None) -> None:
    """The view `side` (sale_date, transaction_id as text) over one side's ids, with `zone` only
    that zone's rows. The Parquet files of an IdFilesDataset are read by DuckDB's own reader, in
    batches (through Arrow's scanner the same check of 10 M ids peaked at ~1.8x the memory); a
    frame is registered as it is."""
    if isinstance(ids, ds.FileSystemDataset) and ids.files:
        con.execute(f"SET VARIABLE {side}_files = ?", [ids.files])
        source = f"read_parquet(getvariable('{side}_files'))"
    else:
        frame = ids if isinstance(ids, pd.DataFrame) and len(ids) else None
        if frame is not None and zone is not None:
            frame = frame[frame["zone"] == zone]
        con.register(f"{side}_input", _side(frame))
        source, zone = f"{side}_input", None
    con.execute(f"SET VARIABLE {side}_zone = ?", [zone])
    where = "" if zone is None else f" WHERE zone = getvariable('{side}_zone')"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {side} AS SELECT sale_date, transaction_id FROM {source}{where}")


def _side(ids: pd.DataFrame | None) -> pd.DataFrame:
    """(sale_date, transaction_id) as text columns, whatever the frame held (None: no rows)."""
    if ids is None or not len(ids):
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in _ID_COLUMNS})
    return pd.DataFrame({c: ids[c].astype("str") for c in _ID_COLUMNS})


@contextmanager
def _ids_db() -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB database file in a temp folder (one thread, 256 MB of memory, the rest on disk):
    a big day's ids are counted there, never as Python objects nor pandas groupbys."""
    with tempfile.TemporaryDirectory(prefix="dq-ids-") as folder, duckdb.connect(
            f"{folder}/ids.duckdb", config={"threads": 1, "memory_limit": "256MB", "temp_directory": folder}) as con:
        yield con


def _compare(left: pd.DataFrame, right: pd.DataFrame, names: tuple[str, str],
             days: list[str], sample_size: int) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    """Multisets of ids per day: (rows out of line, per-day summary, sample of differing ids)."""
    with _ids_db() as con:
        _register(con, "left_side", left)
        _register(con, "right_side", right)
        return _compare_sides(con, names, days, sample_size)


def _compare_sides(con: duckdb.DuckDBPyConnection, names: tuple[str, str], days: list[str],
                   sample_size: int) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    """`_compare` over the relations `left_side` and `right_side` (sale_date, transaction_id) of `con`."""
    a, b = names
    per_side = {(side, day): (n, checksum) for side, day, n, checksum in con.execute(_SQL.text("by_day")).fetchall()}
    con.execute(_SQL.text("differing"))
    gaps = {day: (int(x), int(y)) for day, x, y in con.execute(_SQL.text("differing_by_day")).fetchall()}
    rows = con.execute(_SQL.text("differing_sample"), {"sample_size": int(sample_size)}).fetchall()
    summary = []
    for day in days:
        (n_a, sum_a), (n_b, sum_b) = per_side.get(("left", day), (0, "0")), per_side.get(("right", day), (0, "0"))
        gap = gaps.get(day, (0, 0))
        summary.append({"sale_date": day, f"{a}_rows": int(n_a), f"{b}_rows": int(n_b),
                        f"{a}_checksum": str(sum_a), f"{b}_checksum": str(sum_b),
                        f"{a}_not_{b}": gap[0], f"{b}_not_{a}": gap[1]})
    sample = [{"sale_date": day, "transaction_id": txn, a: int(x), b: int(y)} for day, txn, x, y in rows]
    return sum(x + y for x, y in gaps.values()), summary, sample


def _window(run_date: str, lookback_days: Any) -> list[str]:
    end = parse_run_date(run_date)
    return [d.isoformat() for d in window_dates(window_start(end.isoformat(), lookback_days), end)]


def _by_retailer(frames: dict[str, Any], suffix: str) -> dict[str, Any]:
    return {name[: -len(suffix)]: value for name, value in frames.items() if name.endswith(suffix)}


def check_source_ids(params: dict[str, Any], run_date: str, lookback_days: Any, **frames: Any) -> pd.DataFrame:
    """Per retailer: ids served by the source (inputs `<code>__served`, see `source_ids`) vs ids
    in its raw + quarantine files (`<code>__landed`, see `reconciliation.summarize_zone`); each a
    frame or an Arrow dataset (`_register`). Ids not read (`IdsNotRead`) fail as not checked."""
    cfg = check_cfg(params, "reconciliation_source_ids")
    sample_size = int(params.get("sample_size", 10))
    days = _window(run_date, lookback_days)
    served, landed = _by_retailer(frames, "__served"), _by_retailer(frames, "__landed")
    out = []
    for code in sorted(set(served) | set(landed)):
        if isinstance(served.get(code), IdsNotRead):
            out.append(result(code, "reconciliation_source_ids", cfg["severity"], None, 0, False,
                              message=f"{served[code].reason} for {code}: source ids not checked "
                                      "(the source is not read again)"))
            continue
        gap, summary, sample = _compare(served.get(code), landed.get(code), ("served", "landed"), days, sample_size)
        bad = [d for d in summary if d["served_not_landed"] or d["landed_not_served"]]
        if not bad:
            message = (f"{code}: the ids the source serves are the ids in the raw + quarantine files "
                       f"on every window day ({sum(d['served_rows'] for d in summary):,} rows)")
        else:
            message = (f"{code}: the ids the source serves differ from the ids in the raw + quarantine "
                       f"files on " + days_text([f"{d['sale_date']} ({d['served_not_landed']} served but "
                                                 f"not landed, {d['landed_not_served']} landed but not "
                                                 f"served)" for d in bad])
                       + "; rows served meanwhile by a late insert also show here: rerun the day to repair")
        out.append(result(code, "reconciliation_source_ids", cfg["severity"], gap, 0, not bad,
                          message=message, days=summary, sample=sample))
    return frame(out)


def check_warehouse_ids(warehouse_ids: pd.DataFrame | Iterable[pd.DataFrame], params: dict[str, Any],
                        run_date: str, lookback_days: Any, **frames: Any) -> pd.DataFrame:
    """Per retailer: ids of the raw zone files (`<code>__landed`, zone 'raw') vs the ids of the
    fact lines + warehouse-quarantined rows of each window day. `warehouse_ids` is the query's
    result, or its chunks (a big day: appended to a DuckDB file, never held whole)."""
    cfg = check_cfg(params, "reconciliation_warehouse_ids")
    sample_size = int(params.get("sample_size", 10))
    days = _window(run_date, lookback_days)
    landed = _by_retailer(frames, "__landed")
    out = []
    with _ids_db() as con:
        con.execute(_SQL.text("warehouse_create"))
        for chunk in [warehouse_ids] if isinstance(warehouse_ids, pd.DataFrame) else warehouse_ids:
            if len(chunk):
                con.register("chunk", chunk)
                con.execute(_SQL.text("warehouse_append"))
                con.unregister("chunk")
        codes = set(landed) | {code for (code,) in con.execute("SELECT DISTINCT retailer_code FROM warehouse").fetchall()}
        for code in sorted(c for c in codes if c is not None):
            _register(con, "left_side", landed.get(code), zone="raw")
            con.execute("SET VARIABLE code = ?", [code])
            con.execute(_SQL.text("warehouse_side"))
            gap, summary, sample = _compare_sides(con, ("raw", "warehouse"), days, sample_size)
            places = {(day, place): n for day, place, n in con.execute(_SQL.text("warehouse_places"), [code]).fetchall()}
            for day in summary:
                day["fact_rows"] = int(places.get((day["sale_date"], "fact"), 0))
                day["warehouse_quarantine_rows"] = int(places.get((day["sale_date"], "warehouse_quarantine"), 0))
            out.append(_warehouse_result(code, cfg, gap, summary, sample))
    return frame(out)


def _warehouse_result(code: str, cfg: dict[str, Any], gap: int, summary: list[dict[str, Any]],
                      sample: list[dict[str, Any]]) -> dict[str, Any]:
    bad = [d for d in summary if d["raw_not_warehouse"] or d["warehouse_not_raw"]]
    if not bad:
        message = (f"{code}: the ids of the raw zone files are the ids of the facts + warehouse "
                   f"quarantine on every window day")
    else:
        message = (f"{code}: the ids of the raw zone files differ from the facts + warehouse quarantine on "
                   + days_text([f"{d['sale_date']} ({d['raw_not_warehouse']} in raw but not in the "
                                f"warehouse, {d['warehouse_not_raw']} in the warehouse but not in raw)"
                                for d in bad]))
    return result(code, "reconciliation_warehouse_ids", cfg["severity"], gap, 0, not bad,
                  message=message, days=summary, sample=sample)
