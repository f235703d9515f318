"""Writing a part of the raw zone as JSON Lines (datasets/zone_files.py `write_jsonl`).

The rows are appended straight onto the day's staged file, with the bytes DuckDB's
COPY ... (FORMAT JSON) writes (the raw zone's format before, and what its readers expect);
the text comes in batches, so a batch boundary must not cut or repeat a line.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from retail_pipeline.datasets import zone_files


@pytest.fixture
def con():
    connection = duckdb.connect(config={"threads": 2})
    yield connection
    connection.close()


def awkward_rows(n: int) -> pa.Table:
    """Text that JSON must escape, nulls, extreme numbers, and the quarantine's list of reasons."""
    text = ["a", 'q"uote\\back', "é ü 日本", "ctl\x01\n\t", None, "", '{"x":1}']
    numbers = [0.1, 12.3, 1e-7, None, 1e22, -0.0, 123456789.01]
    return pa.table({
        "transaction_id": pa.array([f"T{i}" for i in range(n)], type=pa.large_string()),
        "product_name": pa.array([text[i % len(text)] for i in range(n)], type=pa.large_string()),
        "quantity": pa.array([None if i % 11 == 0 else (-1) ** i * 2**62 // (i + 1) for i in range(n)], type=pa.int64()),
        "unit_price": pa.array([numbers[i % len(numbers)] for i in range(n)], type=pa.float64()),
        "reasons": pa.array([None if i % 5 == 0 else [text[i % 4] or "x"] * (i % 3) for i in range(n)],
                            type=pa.list_(pa.string())),
    })


def copy_format_json(con, table: pa.Table, path) -> bytes:
    con.register("reference", table)
    con.execute(f"COPY (SELECT * FROM reference) TO '{path}' (FORMAT JSON)")
    con.unregister("reference")
    return path.read_bytes()


def test_the_bytes_are_copy_format_json_across_batches(con, tmp_path, monkeypatch):
    monkeypatch.setattr(zone_files, "JSON_BATCH_ROWS", 1_000)  # several batches, one cut mid-table
    table = awkward_rows(4_321)
    target = tmp_path / "day.jsonl"
    zone_files.write_jsonl(con, table, str(target))
    assert target.read_bytes() == copy_format_json(con, table, tmp_path / "reference.json")
    assert target.read_bytes().count(b"\n") == 4_321


def test_each_part_is_appended_to_what_the_file_holds(con, tmp_path):
    table = awkward_rows(300)
    target = tmp_path / "day.jsonl"
    zone_files.write_jsonl(con, table.slice(0, 100), str(target))
    zone_files.write_jsonl(con, table.slice(100, 0), str(target))  # an empty part adds nothing
    zone_files.write_jsonl(con, table.slice(100), str(target))
    assert target.read_bytes() == copy_format_json(con, table, tmp_path / "reference.json")


def test_a_part_that_is_a_slice_of_a_bigger_table_writes_only_its_rows(con, tmp_path):
    table = awkward_rows(50)
    target = tmp_path / "day.jsonl"
    zone_files.write_jsonl(con, table.slice(17, 9), str(target))
    assert target.read_bytes() == copy_format_json(con, table.slice(17, 9), tmp_path / "reference.json")


@pytest.mark.skipif(not hasattr(zone_files.os, "posix_fadvise"), reason="no posix_fadvise (macOS): nothing is advised")
def test_each_append_drops_the_parts_before_it_from_the_page_cache(con, tmp_path, monkeypatch):
    """A day's file can be gigabytes: each append advises the OS to drop what the file held
    before it (written back first), so the page cache does not grow with the day."""
    advised = []
    real = zone_files.os.posix_fadvise

    def record(fd, offset, length, advice):
        advised.append((offset, length, advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(zone_files.os, "posix_fadvise", record)
    table = awkward_rows(300)
    target = tmp_path / "day.jsonl"
    sizes = []
    for start in (0, 100, 200):
        zone_files.write_jsonl(con, table.slice(start, 100), str(target))
        sizes.append(target.stat().st_size)
    assert advised == [(0, sizes[0], zone_files.os.POSIX_FADV_DONTNEED),
                       (0, sizes[1], zone_files.os.POSIX_FADV_DONTNEED)]  # nothing before the first part
    assert target.read_bytes() == copy_format_json(con, table, tmp_path / "reference.json")
