"""The shape of a retailer's API records as served, derived from its registry entry.

The source fields are written once, in `source.fields` of conf/base/retailers.yml;
`declared_fields` lists them and `source_schema` makes the pandera schema that
`RetailerApiDataset` checks on load. It checks the *shape* of the extraction: every mapped
field is present, plus the extraction's `source_page` and `source_record`. Values are
deliberately not judged here: a bad value (negative quantity, unparseable money, SQL in an id)
is a record-level problem that ends in quarantine with a reason, while a missing or renamed
field is a contract break that must fail the run loudly.
"""

from __future__ import annotations

from typing import Any

import pandera.pandas as pa

# Columns the API dataset adds to every record.
EXTRACTION_COLUMNS = ("source_page", "source_record")


def declared_fields(source: dict[str, Any]) -> list[str]:
    """The source fields a retailer's `source` mapping reads, in mapping order, each once.

    A canonical field mapped to a list (a composite id such as [order_ref, line_no]) adds each
    of its fields.
    """
    fields: list[str] = []
    for canonical, mapped in (source.get("fields") or {}).items():
        names = mapped if isinstance(mapped, list | tuple) else [mapped]
        for name in names or [None]:
            if not isinstance(name, str) or not name:
                raise ValueError(f"source.fields.{canonical}: a source field name or a list of them, "
                                 f"got {mapped!r} (conf/base/retailers.yml)")
            if name not in fields:
                fields.append(name)
    return fields


def source_schema(fields: list[str]) -> pa.DataFrameSchema:
    """Every field present (values nullable and not judged), plus `source_page` >= 1 and a
    non-empty `source_record`. Extra served fields are allowed: they stay in source_record."""
    columns: dict[str, pa.Column] = {name: pa.Column(nullable=True, required=True) for name in fields
                                     if name not in EXTRACTION_COLUMNS}
    columns["source_page"] = pa.Column(int, pa.Check.ge(1))
    columns["source_record"] = pa.Column(str, pa.Check.str_length(min_value=2))
    return pa.DataFrameSchema(columns, strict=False, coerce=False, name="source records")


__all__ = ["EXTRACTION_COLUMNS", "declared_fields", "source_schema"]
