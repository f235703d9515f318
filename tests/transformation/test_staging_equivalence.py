"""Staging's fast path changes no output: a raw zone with good rows and every kind of bad row,
read in chunks and staged, gives the loadable rows, the quarantine rows (same reasons, same
wording) and the star-schema frames that the code before it gave (`golden/staging.json`,
computed by the pandera-only staging of commit e085d0b). No server."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from retail_pipeline.datasets.raw_chunks import RawZoneChunksDataset
from retail_pipeline.pipelines.transformation.nodes import build_star_schema, stage_sales
from retail_pipeline.warehouse.stream import ReadAgain
from tests.transformation.conftest import RawZone, sale

GOLDEN = Path(__file__).parent / "golden" / "staging.json"
RETAILERS = {"retailer_1": {"retailer_id": 1, "name": "R1", "timezone": "UTC"},
             "retailer_4": {"retailer_id": 4, "name": "R4", "timezone": "Europe/Paris"}}
RUN_DATE, LOOKBACK, START = "2024-03-31", 1, "2024-03-30"
LATER = "2024-04-01T05:00:00Z"
STAGED = ["retailer_code", "transaction_id", "product_sku", "product_name", "category", "customer_external_id",
          "store_external_id", "transaction_ts", "sale_date", "date_id", "ts_order", "quantity", "unit_price",
          "total_amount", "discount_percentage", "tax_amount", "shipping_cost"]


def bad_rows(code: str, day: str) -> list[dict]:
    """One row per way a row can fail staging (and some that only look odd but load)."""
    def s(txn, **kw):
        return sale(code, f"{code[-1]}-{txn}", kw.pop("sku", "SKU-1"), kw.pop("day", day), **kw)
    ts = f"{day}T12:00:00Z"
    return [
        s("q0", quantity=0), s("qneg", quantity=-2, total_amount=-20.0), s("qfrac", quantity=1.5, total_amount=15.0),
        s("qbig", quantity=10_001, unit_price=1.0), s("p0", unit_price=0.0), s("pbig", unit_price=1_000_001.0),
        s("p3dec", unit_price=1.005, total_amount=1.0), s("tot", total_amount=30.0),
        s("qnull", quantity=1, total_amount=10.0) | {"quantity": None},
        s("pnull", total_amount=10.0) | {"unit_price": None}, s("tnull", total_amount=None),
        s("disc", discount_percentage=100.5), s("discneg", discount_percentage=-1.0),
        s("disc3", discount_percentage=1.234), s("tax", tax_amount=-0.01), s("ship", shipping_cost=1e9 + 1),
        s("okextra", discount_percentage=100.0, tax_amount=0.0, shipping_cost=5.5),
        s("nosku", sku=None), s("emptysku", sku=""), s("longsku", sku="S" * 65),
        s("padded", sku="  SKU-2 ", store=" S2", customer="C9 "), s("nostore", store=None),
        s("emptystore", store="  "), s("nocust", customer=None), s("longcust", customer="C" * 65),
        s("longname", name="N" * 256), s("longcat", category="K" * 256), s("nocat", category=None),
        s("tsbad", transaction_ts="yesterday"), s("tsnull", transaction_ts=None),
        s("tsfrac", transaction_ts=f"{day}T12:00:00.250Z"), s("tsoff", transaction_ts=f"{day}T13:00:00+01:00"),
        s("tsnaive", transaction_ts=f"{day} 12:00:00"),
        s("daybad", sale_date="31/03/2024", transaction_ts=ts), s("daynull", sale_date=None, transaction_ts=ts),
        s("dayoff", day="2024-03-29", transaction_ts="2024-03-29T12:00:00Z"),
        s("dayfuture", day="2024-04-01", transaction_ts="2024-04-01T12:00:00Z"),
        s("daytz", transaction_ts=f"{day}T23:30:00Z"),
        s("multi", quantity=0, store=None, transaction_ts="never"),
        sale(code, "", "SKU-1", day), sale(code, None, "SKU-1", day), sale(code, "T" * 65, "SKU-1", day),
        sale("retailer_9", f"{code}-unknown", "SKU-1", day), sale(None, f"{code}-nocode", "SKU-1", day),
    ]


def write_raw_zone(root: Path) -> None:
    """Each retailer's rows in its days' files (a row with an unknown or missing code too); a row
    whose sale_date is no window day goes in the run date's file."""
    for code in RETAILERS:
        for row in window_rows(code):
            day = row["sale_date"] if START <= str(row["sale_date"]) <= RUN_DATE else RUN_DATE
            path = root / "raw" / code / f"year={day[:4]}" / f"month={day[5:7]}" / f"day={day[8:]}" / "sales_data.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as out:
                out.write(json.dumps(row) + "\n")


def window_rows(code: str) -> list[dict]:
    rows = []
    for n in range(40):
        day = "2024-03-30" if n % 3 == 0 else "2024-03-31"
        rows.append(sale(code, f"{code[-1]}-G{n:03d}", f"SKU-{n % 7}", day, quantity=1 + n % 4,
                         unit_price=round(0.99 + n * 1.37, 2), store=f"S{n % 3}", customer=f"C{n % 5}",
                         hour=5 + n % 15, discount_percentage=float(n % 11), name=f"P{n % 7}-v{n // 20}"))
    rows += bad_rows(code, "2024-03-31")
    rows.append(sale(code, f"{code[-1]}-G001", "SKU-3", "2024-03-30", quantity=7, unit_price=2.5,
                     ingested_at=LATER))  # a correction of G001 (another day's file)
    rows.append(sale(code, f"{code[-1]}-G004", "SKU-3", "2024-03-31", quantity=3, unit_price=9.99,
                     ingested_at=LATER))  # a correction of G004 in the same file
    return rows


def staged_and_built(root: Path, code: str, chunk_rows: int) -> dict[str, list]:
    raw = RawZoneChunksDataset(chunk_rows=chunk_rows, root=str(root), retailer=code, window_start=START,
                               window_end=RUN_DATE).load()
    stream, _ = stage_sales(RETAILERS, RUN_DATE, LOOKBACK, "r", raw)
    try:
        pairs = list(stream)
    except ReadAgain:
        pairs = list(stream)
    staged = pd.concat([s for s, _ in pairs], ignore_index=True)
    held = pd.concat([q for _, q in pairs], ignore_index=True)
    load = build_star_schema(staged, held, {code: RETAILERS[code]}, {}, RUN_DATE, LOOKBACK, "r")
    frames = {"staged": staged[STAGED], "quarantine": held, "facts": load["facts"], "audit": load["audit"],
              **{name: load["dimensions"][name] for name in ("dim_product", "dim_customer", "dim_store")}}
    out = {}
    for name, frame in frames.items():
        frame = frame.astype(object).where(frame.notna(), None)
        rows = [json.loads(json.dumps(r, default=str)) for r in frame.to_dict(orient="records")]
        out[name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
    return out


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    write_raw_zone(root)
    return root


@pytest.mark.parametrize("chunk_rows", [7, 100_000])
@pytest.mark.parametrize("code", list(RETAILERS))
def test_staging_gives_what_it_gave_before(raw_root, code, chunk_rows):
    got = staged_and_built(raw_root, code, chunk_rows)
    golden = json.loads(GOLDEN.read_text())[code]
    for name, rows in golden.items():
        assert got[name] == rows, name
    assert len(got["quarantine"]) + len(got["staged"]) == len(window_rows(code)) - 2  # two superseded versions
