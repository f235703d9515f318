"""Records -> columns: each page becomes compact Arrow columns as it arrives.

Only the published fields become columns, plus `source_record` (the record re-serialized by
orjson) and `source_page`; so a big window never holds every source value as a Python object.
The columns are concatenated once, at the end, with the dtypes pandas would infer for the
records (text as `str`, numbers as int64/float64, mixed values as Python objects).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from retail_pipeline.extraction.errors import RetailerApiError


class Page:
    """One page of records as columns (Arrow arrays, or object arrays for mixed types).

    `rows` are the frame's rows; `records` the source records served (orders, when each order
    is exploded into its lines; else equal to `rows`)."""

    __slots__ = ("columns", "number", "orders_without_lines", "records", "rows", "source_record")

    def __init__(self, number: int, rows: int, columns: dict[str, Any], source_record: pa.Array,
                 records: int | None = None, orders_without_lines: int = 0) -> None:
        self.number = number
        self.rows = rows
        self.columns = columns
        self.source_record = source_record
        self.records = rows if records is None else records
        self.orders_without_lines = orders_without_lines

    def __len__(self) -> int:
        return self.rows


def explode_lines(retailer: str, orders: list[dict], key: str) -> tuple[list[dict], list[str], int]:
    """(one row per line: the order's fields plus the line's, each row's source_record: the
    order with only that line under `key`, orders without lines). A field both on the order
    and on its line is a configuration error (which one would the row mean?)."""
    rows: list[dict] = []
    texts: list[str] = []
    empty = 0
    dumps = orjson.dumps
    for order in orders:
        lines = order.get(key)
        if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
            raise RetailerApiError(f"{retailer}: malformed response: an order's {key!r} is not a list of "
                                   f"JSON objects (got {str(lines)[:80]!r})")
        if not lines:
            empty += 1
            continue
        head = {name: value for name, value in order.items() if name != key}
        for line in lines:
            clash = head.keys() & line.keys()
            if clash:
                raise RetailerApiError(f"{retailer}: the order and its {key!r} both have the field(s) "
                                       f"{', '.join(sorted(clash))}; api.lines cannot flatten them")
            rows.append({**head, **line})
            texts.append(dumps({name: ([line] if name == key else value) for name, value in order.items()}).decode())
    return rows, texts, empty


def page_frame(records: list[dict], number: int, fields: list[str], lines: str | None = None,
               retailer: str = "") -> Page:
    """The page's records as columns: `fields` when given, every served field otherwise; with
    `lines`, one row per line of each order (`explode_lines`)."""
    served, empty, texts = len(records), 0, None
    if lines:
        records, texts, empty = explode_lines(retailer, records, lines)
    n = len(records)
    present = set().union(*records) if records else set()
    names = fields or list(dict.fromkeys(key for record in records for key in record))
    columns: dict[str, Any] = {}
    for name in names:
        if name not in present:
            continue  # absent from the whole page: the column may still come with another page
        values = [record.get(name) for record in records]
        try:
            array = pa.array(values, from_pandas=True)
            if pa.types.is_string(array.type):
                array = array.cast(pa.large_string())  # pandas' str layout: no copy later
            columns[name] = array
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            # mixed types as served (e.g. text in a numeric field): kept as Python objects
            columns[name] = np.array(values, dtype=object)
    if texts is None:
        dumps = orjson.dumps
        texts = [dumps(r).decode() for r in records]
    source_record = pa.array(texts, type=pa.large_string())
    return Page(number=number, rows=n, columns=columns, source_record=source_record, records=served,
                orders_without_lines=empty)


def to_frame(frames: list[Page], fields: list[str]) -> pd.DataFrame:
    """All pages as one DataFrame; each page's columns are freed as soon as they are merged."""
    pages = [page for page in frames if page.rows]
    if not pages:
        columns = {name: pd.Series([], dtype=object) for name in fields}
        columns["source_record"] = pd.Series([], dtype="str")
        columns["source_page"] = pd.Series([], dtype="int64")
        return pd.DataFrame(columns)
    names = list(dict.fromkeys(name for page in pages for name in page.columns))
    if fields:
        order = {name: i for i, name in enumerate(fields)}
        names.sort(key=lambda name: order.get(name, len(order)))
    data: dict[str, Any] = {}
    for name in names:
        data[name] = _concat_column([(page.columns.get(name), page.rows) for page in pages])
        for page in pages:  # free each page's part as soon as it is merged
            page.columns.pop(name, None)
    data["source_record"] = pd.Series(
        pa.chunked_array([page.source_record for page in pages], type=pa.large_string()).to_pandas())
    data["source_page"] = np.repeat(np.array([page.number for page in pages], dtype="int64"),
                                    [page.rows for page in pages])
    return pd.DataFrame(data, copy=False)


def _concat_column(parts: list[tuple[Any, int]]) -> pd.Series:
    """One source field over all pages, with the dtypes pandas would infer for the records
    (str for text, int64/float64 for numbers, object for mixed or absent values)."""
    arrays = [part for part, _ in parts]
    kinds = {a.type for a in arrays if isinstance(a, pa.Array) and not pa.types.is_null(a.type)}
    mixed = any(not isinstance(a, pa.Array) for a in arrays if a is not None)
    target = None
    if not mixed and len(kinds) == 1:
        target = next(iter(kinds))
    elif not mixed and all(pa.types.is_integer(k) or pa.types.is_floating(k) for k in kinds):
        target = pa.float64()  # ints and floats, or only nulls: float64 (NaN), as pandas infers
    if target is not None:
        if pa.types.is_string(target):
            target = pa.large_string()
        flat = (pa.types.is_large_string(target) or pa.types.is_integer(target)
                or pa.types.is_floating(target) or pa.types.is_boolean(target))
        if not flat or (pa.types.is_boolean(target) and any(a is None or a.null_count for a in arrays)):
            target = None  # nested values, or bool with nulls: pandas keeps Python objects
    if target is not None:
        chunks = [pa.nulls(rows, target) if a is None else a.cast(target) for a, rows in parts]
        return pd.Series(pa.chunked_array(chunks, type=target).to_pandas())
    pieces = []
    for a, rows in parts:
        if a is None:
            pieces.append(np.full(rows, None, dtype=object))
        elif isinstance(a, pa.Array):
            pieces.append(np.array(a.to_pylist(), dtype=object))
        else:
            pieces.append(a)
    values = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    return pd.Series(values, dtype=object)
