"""The schema pre-check at ingestion: it leaves to pandera a superset of the rows pandera fails,
so the reasons stay pandera's (the generic module itself: tests/schemas/test_precheck.py)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from retail_pipeline.pipelines.ingestion import validate
from retail_pipeline.schemas.canonical import CanonicalSale
from retail_pipeline.schemas.precheck import judged_rows
from retail_pipeline.schemas.regex import re2_is_as_strict
from tests.ingestion.test_nodes import INGESTED_AT, REGISTRY, api_frame, normalize_sales, r1, r2, r3


SCHEMA = CanonicalSale.to_schema()


def suspect_rows(view: pd.DataFrame) -> np.ndarray:
    suspect = np.zeros(len(view), dtype=bool)
    suspect[judged_rows(view, SCHEMA)] = True
    return suspect


def test_every_regex_of_the_model_is_checked_by_re2():
    """The fast path covers the model's patterns (else pandera's function checks them: slower)."""
    patterns = [c.statistics["pattern"] for col in SCHEMA.columns.values() for c in col.checks
                if c.name == "str_matches"]
    assert len(patterns) == 8 and all(re2_is_as_strict(p) for p in patterns)


# Values at and beyond every rule's edge (RE2 and Python's re differ on '$' before a newline
# and on non-ASCII digits; NaN, infinities, empty and blank texts, non-ASCII letters).
IDS = ["A", "ORD-1", "", " ", "ORD-1\n", "ORD 1", "ÖRD-1", "a" * 64, "a" * 65, "x;--", None, "ORD-1", "_a",
       "1.2:3/4#5"]
TEXTS = ["Lamp", "", "é" * 255, "é" * 256, "a\n", None, "x" * 255, "x" * 256]
TIMES = ["2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123456Z", "2024-01-15T10:30:00", "2024-01-15T10:30:00Z\n",
         "٢٠٢٤-01-15T10:30:00Z", "2099-01-01T00:00:00Z", "", None]
DATES = ["2024-01-15", "2024-1-15", "2024-01-15\n", "", None]
MONEY = [12.5, 0.0, -0.0, -1.0, 0.01, 0.015, 12.345, 1e6, 1e6 + 0.01, 1e10, 1e10 + 1, 1e13, np.inf, -np.inf, np.nan]
QUANTITIES = [1, 2, 0, -1, 10_000, 10_001]
PERCENT = [0.0, 100.0, 100.01, -0.01, 5.555, np.nan]
EXTRA = [0.0, -0.0, -0.01, 1e9, 1e9 + 0.01, 0.333, np.nan]


def _random_view(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def pick(pool, dtype):  # the pool's first value (a good one) 9 times in 10
        chosen = np.where(rng.random(rows) < 0.9, 0, rng.integers(0, len(pool), rows))
        return pd.Series([pool[i] for i in chosen], dtype=dtype)

    view = pd.DataFrame({
        "retailer_code": pick(["retailer_1", "retailer 1", "", "r\n"], "str"),
        "transaction_id": pd.Series([f"T-{i}" if i % 10 else IDS[i // 10 % len(IDS)] for i in range(rows)],
                                    dtype="str"),
        "product_sku": pick(IDS, "str"),
        "product_name": pick(TEXTS, "str"),
        "category": pick(TEXTS, "str"),
        "quantity": pick(QUANTITIES, "int64"),
        "unit_price": pick(MONEY, "float64"),
        "total_amount": pick(MONEY, "float64"),
        "discount_percentage": pick(PERCENT, "float64"),
        "tax_amount": pick(EXTRA, "float64"),
        "shipping_cost": pick(EXTRA, "float64"),
        "transaction_ts": pick(TIMES, "str"),
        "sale_date": pick(DATES, "str"),
        "customer_id": pick(IDS, "str"),
        "store_id": pick(IDS, "str"),
        "source_record": pick(["{}", "{", "", '{"a":1}'], "str"),
        "source_page": pick([1, 2, 0, -1], "int64"),
        "run_id": pick(["run-1", ""], "str"),
        "ingested_at": pick(["2024-01-16T01:00:00Z", "2024-01-16 01:00:00"], "str"),
    })
    # totals that match in most rows, so that the other rules are judged on their own
    good = rng.random(rows) < 0.8
    view.loc[good, "total_amount"] = view.loc[good, "unit_price"] * view.loc[good, "quantity"]
    return view


@pytest.mark.parametrize("seed", range(5))
def test_every_row_pandera_fails_is_suspect(seed):
    view = _random_view(3000, seed)
    cases = validate._pandera_failures(view.copy(), precheck=False)
    failed = set(cases["index"]) if cases is not None else set()
    suspect = set(judged_rows(view, SCHEMA))
    assert failed, "the random rows should break rules"
    assert failed <= suspect
    assert len(suspect) < len(view)  # and it passes good rows


class _WithAnExtraRule(CanonicalSale):
    @pa.check("product_name", name="no_digits")
    def no_digits(cls, names: pd.Series) -> pd.Series:
        return ~names.str.contains("[0-9]", regex=True)


def test_a_rule_added_to_the_model_is_pre_checked_with_nothing_to_keep_in_step():
    view = _random_view(2000, 5).assign(product_name=lambda v: v["product_name"].where(v.index % 7 > 0, "Lamp 2"))
    schema = _WithAnExtraRule.to_schema()
    try:
        _WithAnExtraRule.validate(view.copy(), lazy=True)
    except pa.errors.SchemaErrors as exc:
        failed = set(exc.failure_cases.query("check == 'no_digits'")["index"])
    assert failed and failed <= set(judged_rows(view, schema))
    assert not failed <= set(judged_rows(view, SCHEMA))  # the old model's pre-check does not see it


def test_the_cases_with_the_precheck_are_pandera_s_own():
    view = _random_view(3000, 11)
    full = validate._pandera_failures(view.copy(), precheck=False)
    pre = validate._pandera_failures(view.copy(), precheck=True)
    columns = ["index", "_column", "check"]
    assert pre[columns].reset_index(drop=True).equals(full[columns].reset_index(drop=True))


def test_reasons_are_the_same_with_and_without_the_precheck(monkeypatch):
    records = {
        "retailer_1": [r1("ORD-1"), r1("ORD-2", sku=""), r1("ORD-3", quantity=-2, total=-25.0), r1("ORD-4", total=30.0),
                       r1("ORD-1 "), r1("ORD-5", order_date="2099-01-01T00:00:00"),
                       r1("ORD-6", product_name="é" * 300),
                       r1("ORD-7", sku="SKU-1'; DROP TABLE sales; --"), r1("ORD-9", quantity=0, total=0.0),
                       r1("ORD-10", price=12.345, total=24.69), r1("ORD-11", discount_percentage=101.0),
                       r1("ORD-12", store_id="S 1"), r1("ORD-13", quantity=None), r1("ORD-14")],
        "retailer_2": [r2("TXN-1", unit_cost="1,10"), r2("TXN-2", tax_amount="-0.01"), r2("TXN-3"), r2("TXN-3")],
        "retailer_3": [r3("SAL-1", shipping_cost=-1.0), r3("SAL-2", revenue=41.0), r3("SAL-3")],
    }
    for code, rows in records.items():
        def reasons(precheck: bool) -> dict:
            with monkeypatch.context() as patch:
                patch.setattr(validate, "_pandera_failures",
                              functools.partial(validate._pandera_failures, precheck=precheck))
                normalized, _ = normalize_sales(api_frame(rows, code), REGISTRY[code], "run-1", INGESTED_AT)
                return validate.row_reasons(normalized)

        expected = reasons(False)
        assert expected and reasons(True) == expected, code


def test_a_column_of_the_wrong_type_is_left_to_pandera_to_report():
    view = _random_view(50, 3).assign(quantity=pd.Series(["two"] * 50, dtype=object),
                                      product_name=pd.Series([1.5] * 50))
    assert suspect_rows(view).all()
    with pytest.raises(ValueError, match="does not fit the canonical model"):
        validate._pandera_failures(view, precheck=True)
