"""One translator from pandera failures to sentences, shared by ingestion and staging."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from retail_pipeline.pipelines.ingestion import validate
from retail_pipeline.pipelines.transformation import nodes as transformation
from retail_pipeline.schemas.reasons import failure_cases, reason, shown, translate


@pytest.mark.parametrize("column, check, value, expected", [
    ("quantity", "not_nullable", None, "quantity is missing"),
    ("quantity", "greater_than(0)", -2, "quantity must be > 0 (got -2)"),
    ("tax_amount", "greater_than_or_equal_to(0)", -1.0, "tax_amount must be >= 0 (got -1.0)"),
    ("quantity", "less_than_or_equal_to(10000)", 10001, "quantity must be <= 10000 (got 10001)"),
    ("discount_percentage", "in_range(0, 100)", 101.0, "discount_percentage must be in (0, 100) (got 101.0)"),
    ("unit_price", "money_scale", 1.234, "unit_price has more than 2 decimals (got 1.234): money is quarantined, "
                                         "never rounded"),
    ("quantity", "whole_number", 1.5, "quantity must be a whole number (got '1.5')"),
    ("product_name", "str_length(1, 255)", "", "product_name is empty"),
    ("product_name", "str_length(1, 255)", "é" * 300, "product_name is longer than 255 characters (got 300)"),
    ("transaction_id", "str_length(1, 64)", "x" * 65, "transaction_id is longer than 64 characters (got 65)"),
    ("source_record", "str_length(2, None)", "{", "source_record is shorter than 2 characters (got 1)"),
    ("product_sku", "str_matches('^x$')", "a b", "product_sku is not a safe identifier: letters, digits and "
                                                  "_.:/#- only (got 'a b')"),
    ("transaction_ts", "str_matches('^x$')", "yesterday",
     "transaction_ts is not an ISO 8601 UTC value (got 'yesterday')"),
    ("x", "some_new_check", "v" * 50, "x failed check some_new_check (got '" + "v" * 40 + "...')"),
])
def test_each_check_reads_as_a_sentence(column, check, value, expected):
    assert reason(column, check, value) == expected


def test_whole_record_checks_quote_the_record():
    row = {"quantity": 2, "unit_price": 12.5, "total_amount": 30.0, "transaction_ts": "2099-01-01T00:00:00Z",
           "ingested_at": "2024-01-16T01:00:00Z", "transaction_id": "T-1"}
    assert reason(None, "total_matches_quantity_x_price", None, row) == (
        "total_amount 30.00 differs from quantity 2 x unit_price 12.50 = 25.00 by more than a cent")
    assert reason(None, "not_in_future", None, row).startswith("transaction_ts 2099-01-01T00:00:00Z is in the future")
    assert reason(None, "transaction_id_unique", None, row).startswith("duplicate transaction_id 'T-1'")
    assert shown("x" * 41) == repr("x" * 40 + "...")


def test_failure_cases_keep_rows_and_refuse_a_broken_shape():
    schema = pa.DataFrameSchema({"q": pa.Column(int, pa.Check.gt(0))},
                                checks=[pa.Check(lambda df: df["q"] < 5, name="small")])
    frame = pd.DataFrame({"q": [1, -1, 9]})
    with pytest.raises(pa.errors.SchemaErrors) as err:
        schema.validate(frame, lazy=True)
    cases = failure_cases(err.value, "the test frame")
    got = sorted((label, column, check) for label, column, check, _ in translate(cases, frame.assign(
        quantity=1, unit_price=1.0, total_amount=1.0, transaction_ts="", ingested_at="", transaction_id="")))
    assert got == [(1, "q", "greater_than(0)"), (2, "", "small")]  # the record check once, not per column
    with pytest.raises(pa.errors.SchemaErrors) as err:
        schema.validate(pd.DataFrame({"r": [1]}), lazy=True)
    with pytest.raises(ValueError, match="the test frame \\(a bug, not bad data\\)"):
        failure_cases(err.value, "the test frame")


def test_ingestion_and_staging_use_the_one_translator():
    assert not hasattr(validate, "_reason")  # the ingestion copy is gone
    assert validate.translate is transformation.translate
    assert validate.failure_cases is transformation.failure_cases
