"""pandera failures -> sentences a person can act on: the one translator of the project.

Ingestion (`CanonicalSale`, pipelines/ingestion/validate.py) and staging (`StagedSaleModel`,
pipelines/transformation/nodes.py) both quarantine rows with these texts, so a rule broken at
either stage reads the same ("quantity must be > 0 (got 0)"). `failure_cases` keeps the
row-level cases (a schema-level failure is a bug, not bad data, and raises); `translate` turns
each case into a sentence, whole-record checks once per row with the record's own values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pandera.pandas as pa

from retail_pipeline.schemas.rules import MONEY_SCALE

# Fields a whole-record check's sentence quotes (fetched once for the few rows that fail one).
RECORD_FIELDS = ("quantity", "unit_price", "total_amount", "transaction_ts", "ingested_at", "transaction_id")
_TIME_COLUMNS = ("transaction_ts", "ingested_at", "sale_date")
_ARGS = re.compile(r"^[a-z_]+\((.*)\)$")


def shown(value: Any, limit: int = 40) -> str:
    """A value quoted for a reason, cut to `limit` characters (a 400-digit text stays readable)."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _args(check: str) -> list[str]:
    """The arguments of a built-in check's name: 'str_length(1, 255)' -> ['1', '255']."""
    match = _ARGS.match(check)
    return [part.strip() for part in match.group(1).split(",")] if match else []


def _length_reason(column: str, check: str, value: Any) -> str:
    text = "" if value is None else str(value)
    if text == "":
        return f"{column} is empty"
    low, high = (_args(check) + ["None", "None"])[:2]
    if high != "None" and len(text) > int(high):
        return f"{column} is longer than {high} characters (got {len(text)})"
    return f"{column} is shorter than {low} characters (got {len(text)})"


def reason(column: str | None, check: str, value: Any, row: dict | None = None) -> str:
    """The sentence for one failure case: `column` failed `check` with `value` (`row`: the
    record's RECORD_FIELDS, for whole-record checks)."""
    args = _args(check)
    if check == "not_nullable":
        return f"{column} is missing"
    if check.startswith("greater_than_or_equal_to("):
        return f"{column} must be >= {args[0]} (got {value})"
    if check.startswith("greater_than("):
        return f"{column} must be > {args[0]} (got {value})"
    if check.startswith("less_than_or_equal_to("):
        return f"{column} must be <= {args[0]} (got {value})"
    if check.startswith("less_than("):
        return f"{column} must be < {args[0]} (got {value})"
    if check.startswith("in_range("):
        return f"{column} must be in {check[len('in_range'):]} (got {value})"
    if check == "money_scale":
        return f"{column} has more than {MONEY_SCALE} decimals (got {value}): money is quarantined, never rounded"
    if check == "whole_number":
        return f"{column} must be a whole number (got {shown(value)})"
    if check.startswith("str_length("):
        return _length_reason(str(column), check, value)
    if check.startswith("str_matches("):
        if value is not None and str(value) == "":
            return f"{column} is empty"
        if column in _TIME_COLUMNS:
            return f"{column} is not an ISO 8601 UTC value (got {shown(value)})"
        return f"{column} is not a safe identifier: letters, digits and _.:/#- only (got {shown(value)})"
    if check == "total_matches_quantity_x_price" and row is not None:
        q, p, t = row["quantity"], row["unit_price"], row["total_amount"]
        return (f"total_amount {t:.2f} differs from quantity {q:g} x unit_price {p:.2f} = {q * p:.2f} "
                f"by more than a cent")
    if check == "not_in_future" and row is not None:
        return f"transaction_ts {row['transaction_ts']} is in the future (ingested at {row['ingested_at']})"
    if check == "transaction_id_unique" and row is not None:
        return (f"duplicate transaction_id {row['transaction_id']!r}: an earlier record in this "
                f"window has the same id (the first one is kept)")
    return f"{column or 'record'} failed check {check} (got {shown(value)})"


def failure_cases(err: pa.errors.SchemaErrors, what: str) -> pd.DataFrame:
    """The row-level failure cases of a lazy validation, one per row, column and check.

    A case without a row (a missing column, a wrong dtype) means the frame does not have the
    model's shape: a bug of the stage that built it, raised with `what` (the stage), never
    quarantined. A whole-record check (pandera lists it once per column) is kept once, with
    `_column` ''.
    """
    cases = err.failure_cases
    schema_level = cases[cases["index"].isna()]
    if len(schema_level):
        raise ValueError(f"{what} (a bug, not bad data):\n{schema_level.to_string()}") from err
    cases = cases.assign(index=cases["index"].astype("int64"))
    whole_record = cases["schema_context"].astype(str) == "DataFrameSchema"
    cases = cases.assign(_column=cases["column"].astype(str).where(~whole_record, ""))
    return cases.drop_duplicates(["index", "_column", "check"], keep="first")


def translate(cases: pd.DataFrame, frame: pd.DataFrame) -> Iterator[tuple[Any, str, str, str]]:
    """(row label, column or '' for a whole-record check, check, sentence) per failure case.

    `frame` is the validated frame; the fields of the few rows failing a whole-record check are
    read from it once for all of them.
    """
    labels = cases["index"].tolist()
    columns = cases["_column"].tolist()
    checks = cases["check"].astype(str).tolist()
    values = cases["failure_case"].tolist()
    record_rows = sorted({label for label, column in zip(labels, columns, strict=True) if column == ""})
    records: dict[Any, dict] = {}
    if record_rows:
        fields = [name for name in RECORD_FIELDS if name in frame.columns]
        picked = {name: frame[name].loc[record_rows].tolist() for name in fields}
        records = {label: {name: picked[name][i] for name in fields} for i, label in enumerate(record_rows)}
    for label, column, check, value in zip(labels, columns, checks, values, strict=True):
        if column == "":
            yield label, "", check, reason(None, check, None, records[label])
        else:
            yield label, column, check, reason(column, check, value)


__all__ = ["RECORD_FIELDS", "failure_cases", "reason", "shown", "translate"]
