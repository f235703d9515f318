"""Seeding real databases: COPY round-trips every value; re-seeding replaces a batch day."""

from __future__ import annotations

from contextlib import closing

import psycopg2
import pytest

from retailers.common.registry import RETAILERS
from retailers.generator import COLUMNS, generate
from tests.retailers.client import KEY_CODES


def _query(dsn, sql, params=None):
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_seed_then_reseed_replaces_rather_than_doubles(seed_retailers, retailer_databases):
    first = seed_retailers("2024-01-14", "2024-01-15", rows_per_day=120, bad_fraction=0.1, late_fraction=0.1,
                           retailers=KEY_CODES)  # retailer 4 (orders and lines): test_retailer_4_data.py
    assert {code: s["rows"] for code, s in first.items()} == {code: 240 for code in KEY_CODES}
    # Same range again, fewer rows, without truncating first: the batch days are replaced.
    seed_retailers("2024-01-15", rows_per_day=50, bad_fraction=0.1, late_fraction=0.1, truncate=False,
                   retailers=KEY_CODES)
    for code in KEY_CODES:
        dsn, s = retailer_databases[code], RETAILERS[code]
        (count,), = _query(dsn, f"SELECT count(*) FROM {s.table}")
        assert count == 120 + 50
        (day15,), = _query(dsn, f"SELECT count(*) FROM {s.table} WHERE {s.id_column} LIKE %s",
                           (f"{s.id_prefix}-20240115-%",))
        assert day15 == 50


@pytest.mark.parametrize("code", KEY_CODES)
def test_values_round_trip_through_copy(code, seed_retailers, retailer_databases):
    seed_retailers("2024-02-01", rows_per_day=200, bad_fraction=0.3, late_fraction=0.1, retailers=[code])
    frame = generate(code, "2024-02-01", 200, 0.3, 0.1, seed=1, as_of="2030-01-01")
    cols = COLUMNS[code]
    rows = _query(retailer_databases[code],
                  f"SELECT {', '.join(repr_col(c) for c in cols)} FROM {RETAILERS[code].table} ORDER BY 1")
    db = {row[0]: row for row in rows}
    assert len(db) == len(frame)
    name_col, sku_col = cols[5], cols[4]
    for _, expected in frame.iterrows():
        got = db[expected[cols[0]]]
        assert got[cols.index(name_col)] == expected[name_col]  # non-ASCII and over-long text intact
        assert got[cols.index(sku_col)] == expected[sku_col]    # '' stays '' (not NULL); SQL text inert
        assert got[1] == expected[cols[1]].to_pydatetime()


def repr_col(column: str) -> str:
    return f'"{column}"'


def test_seed_command_line_prints_a_summary(retailer_databases, monkeypatch, capsys):
    from retailers.__main__ import main

    for code, dsn in retailer_databases.items():
        monkeypatch.setenv(f"RETAILER{RETAILERS[code].number}_DATABASE_URL", dsn)
    assert main(["seed", "--start", "2024-03-01", "--end", "2024-03-01", "--rows-per-day", "40",
                 "--bad-fraction", "0.2", "--late-fraction", "0.1", "--seed", "3", "--as-of", "2024-03-02",
                 "--retailers", "retailer_2"]) == 0
    out = capsys.readouterr().out
    assert "retailer_2: 40 rows over 1 day(s), 8 bad" in out and "retailer_1" not in out
    assert "unparseable_money=1" in out
