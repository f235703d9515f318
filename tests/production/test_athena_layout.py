"""The Athena table of docs/production.md reads the raw zone the pipeline writes.

Records are saved with the real RawZoneDataset into a temp raw zone
(raw/{retailer}/year=/month=/day=/sales_data.json, JSON Lines) and read back with DuckDB using
hive partitioning, as Athena would with the documented DDL: the DDL's data columns are exactly
the records' fields (less the partition column retailer_code), and the partition values equal
the folders and the records' own retailer_code and sale_date.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from retail_pipeline.datasets.raw_zone import RawZoneDataset
from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "production.md"
DAYS = ["2024-01-30", "2024-01-31", "2024-02-01"]


def athena_ddl() -> str:
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)
    ddl = [b for b in blocks if "CREATE EXTERNAL TABLE" in b]
    assert len(ddl) == 1, "docs/production.md should hold one CREATE EXTERNAL TABLE"
    return ddl[0]


def ddl_columns(ddl: str) -> tuple[list[str], list[str]]:
    body = re.search(r"CREATE EXTERNAL TABLE[^(]*\((.*?)\)\s*PARTITIONED BY", ddl, flags=re.S).group(1)
    parts = re.search(r"PARTITIONED BY\s*\((.*?)\)", ddl, flags=re.S).group(1)

    def names(text):
        return [line.split()[0] for line in text.strip().splitlines() if line.strip()]

    return names(body), names(parts)


def ddl_types(ddl: str) -> dict[str, str]:
    """The DDL's data columns as DuckDB types, to read the files the way Athena would."""
    body = re.search(r"CREATE EXTERNAL TABLE[^(]*\((.*?)\)\s*PARTITIONED BY", ddl, flags=re.S).group(1)
    mapping = {"string": "VARCHAR", "bigint": "BIGINT", "double": "DOUBLE"}
    types = {}
    for line in body.strip().splitlines():
        name, kind = line.strip().rstrip(",").split(None, 1)
        types[name] = mapping.get(kind, kind.upper())   # decimal(12,2) -> DECIMAL(12,2)
    return types


def record(code: str, n: int, day: str) -> dict:
    return {
        "retailer_code": code, "transaction_id": f"T-{code}-{day}-{n}", "product_sku": f"SKU-{n}",
        "product_name": f"Product {n}", "category": None if n == 2 else "Tools", "quantity": n,
        "unit_price": 2.5, "total_amount": round(2.5 * n, 2), "discount_percentage": None,
        "tax_amount": 0.3 if code == "retailer_2" else None, "shipping_cost": None,
        "transaction_ts": f"{day}T10:0{n}:00Z", "sale_date": day, "customer_id": f"C{n}",
        "store_id": "S1", "source_record": '{"id": 1}', "source_page": 1, "run_id": "run-1",
        "ingested_at": "2024-02-02T02:00:00Z",
    }


@pytest.fixture
def raw_zone(tmp_path) -> Path:
    for code in ("retailer_1", "retailer_2"):
        rows = [record(code, n, day) for day in DAYS for n in (1, 2, 3)]
        frame = pd.DataFrame(rows, columns=list(CANONICAL_COLUMNS))
        RawZoneDataset(root=str(tmp_path), zone="raw", retailer=code,
                       window_start=DAYS[0], window_end=DAYS[-1]).save(frame)
    return tmp_path


def test_ddl_columns_are_the_canonical_fields():
    columns, partitions = ddl_columns(athena_ddl())
    assert partitions == ["retailer_code", "year", "month", "day"]
    assert columns == [c for c in CANONICAL_COLUMNS if c != "retailer_code"]
    ddl = athena_ddl()
    assert "org.openx.data.jsonserde.JsonSerDe" in ddl
    assert "s3://retail-raw-zone/raw/${retailer_code}/year=${year}/month=${month}/day=${day}/" in ddl


def test_duckdb_reads_the_layout_with_hive_partitions(raw_zone):
    files = sorted(p.relative_to(raw_zone).as_posix() for p in raw_zone.rglob("*.json"))
    assert files[0] == "raw/retailer_1/year=2024/month=01/day=30/sales_data.json"
    assert len(files) == 2 * len(DAYS)

    columns, _ = ddl_columns(athena_ddl())
    con = duckdb.connect()
    pattern = f"{raw_zone.as_posix()}/raw/*/year=*/month=*/day=*/sales_data.json"
    # every DDL column is a field of the records, and the records carry nothing else
    detected = con.execute(f"SELECT * FROM read_json('{pattern}', format = 'newline_delimited', hive_partitioning = false) LIMIT 0").df()
    assert set(detected.columns) == set(columns) | {"retailer_code"}

    types = {**ddl_types(athena_ddl()), "retailer_code": "VARCHAR"}
    struct = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    frame = con.execute(
        f"""SELECT *, regexp_extract(filename, '/raw/([^/]+)/year=', 1) AS folder_retailer
            FROM read_json('{pattern}', format = 'newline_delimited', columns = {struct},
                           hive_partitioning = true, hive_types_autocast = false, filename = true)"""
    ).df()
    assert len(frame) == 2 * len(DAYS) * 3
    assert frame["quantity"].dtype.kind == "i" and frame["category"].isna().sum() == 2 * len(DAYS)
    # partition values come from the folders and agree with the records
    assert (frame["folder_retailer"] == frame["retailer_code"]).all()
    built = frame.apply(lambda r: f"{int(r['year']):04d}-{int(r['month']):02d}-{int(r['day']):02d}", axis=1)
    assert (built == frame["sale_date"]).all()
    assert sorted(set(built)) == DAYS
    # what the Athena example query computes, on the same files
    revenue = con.execute(
        f"""SELECT folder_retailer, sale_date, count(*) AS n, sum(total_amount) AS revenue FROM (
              SELECT *, regexp_extract(filename, '/raw/([^/]+)/year=', 1) AS folder_retailer
              FROM read_json('{pattern}', columns = {struct}, hive_partitioning = true,
                             hive_types_autocast = false, filename = true))
            WHERE folder_retailer = 'retailer_1' AND year = '2024' AND month = '01'
            GROUP BY 1, 2 ORDER BY 2"""
    ).fetchall()
    assert revenue == [("retailer_1", "2024-01-30", 3, 15.0), ("retailer_1", "2024-01-31", 3, 15.0)]
