"""The generic pre-check (schemas/precheck.py): on any schema, every row pandera fails is judged,
checks it has no fast path for go through pandera's function, rules that look at other rows
are verified, and RE2 clears a text only where Python's re.match would."""

from __future__ import annotations

import itertools
import logging
import re

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pyarrow_
import pyarrow.compute as pc
import pytest
from pandera.typing import Series

from retail_pipeline.schemas.canonical import DATE_PATTERN, ISO_UTC_PATTERN, RETAILER_CODE_PATTERN, SAFE_ID_PATTERN
from retail_pipeline.schemas.precheck import judged_rows
from retail_pipeline.schemas.regex import re2_is_as_strict

PATTERNS = [SAFE_ID_PATTERN, RETAILER_CODE_PATTERN, ISO_UTC_PATTERN, DATE_PATTERN, r"[^ab]x+?", r"a|b$",
            r"(?P<n>a|\d)*\s\w\.-$", r"é.$", r"[0-9]{2,3}(:[a-z]+)?"]
REFUSED = [r"^\D", r"[^\d]", r"a\b", r"(?i)a", r"(?i:a)", r"a{,3}", r"[[:alpha:]]", r"\0", r"(?#c)a", r"(?=a)",
           r"(a)\1", r"\Z", r"a++", r"(?>a)", r"\n", r"\x41", "\\u0041", re.compile("a")]
TEXTS = ["", "a", "b", "x", "ax", "bxx", "1", "12", "123", "12:ab", "٢", "٢٢٢", "a\n", "1\n", "é\n", "éa", "a b",
         "a\tb", "a\x0bb", "aa", "A-1", "ORD-1\n", "2024-01-15", "2024-01-15\n", "٢٠٢٤-01-15", "_a", "1.2:3/4#5",
         "2024-01-15T10:30:00Z", "2024-01-15T10:30:00.5Z\n", "\n", " ", "a1", "ɑ", "a\u2028", "\u00a0", "x" * 65]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_re2_accepts_no_text_python_rejects_for_the_patterns_it_is_trusted_with(pattern):
    assert re2_is_as_strict(pattern)
    texts = TEXTS + ["".join(p) for p in itertools.product(["a", "1", "\n", "٢", ".", "-", "x", "é"], repeat=3)]
    re2 = pc.match_substring_regex(pyarrow_.array(texts), f"^(?:{pattern})").to_pylist()
    python = [re.match(pattern, t) is not None for t in texts]
    assert not [t for t, r, p in zip(texts, re2, python) if r and not p]


@pytest.mark.parametrize("pattern", REFUSED)
def test_patterns_re2_reads_otherwise_are_left_to_pandera(pattern):
    assert not re2_is_as_strict(pattern)


def _frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "code": pd.Series(rng.choice(["A-1", "a b", "", "٢٢", "A-1\n", None], n, p=[.8, .04, .04, .04, .04, .04]),
                          dtype="str"),
        "name": pd.Series(rng.choice(["Lamp", "", "x" * 11, None, "Lamp 2"], n, p=[.8, .05, .05, .05, .05]),
                          dtype="str"),
        "amount": rng.choice([1.0, 0.0, -1.0, 100.0, 100.5, np.nan, np.inf, 1.005], n,
                             p=[.72, .04, .04, .04, .04, .04, .04, .04]),
        "count": rng.choice([1, 0, 5, 6], n, p=[.85, .05, .05, .05]),
        "key": pd.Series(rng.integers(0, 380, n)).astype("str"),
    })


class Model(pa.DataFrameModel):
    code: Series[str] = pa.Field(str_matches=r"^[A-Z]-\d$")
    name: Series[str] = pa.Field(nullable=True, str_length={"min_value": 1, "max_value": 10})
    amount: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 100, "include_min": False})
    count: Series[int] = pa.Field(ge=1, lt=6)
    key: Series[str]

    @pa.check("name", name="no_digits")
    def no_digits(cls, names: pd.Series) -> pd.Series:
        return ~names.str.contains("[0-9]")

    @pa.check("amount", name="cents")
    def cents(cls, values: pd.Series) -> pd.Series:
        return np.rint(values * 100) / 100 == values

    @pa.dataframe_check(name="amount_per_count", statistics={"related_by": ["key"]})
    def amount_per_count(cls, df: pd.DataFrame) -> pd.Series:
        return ~df["key"].duplicated(keep="first")


def _failed_rows(model, df: pd.DataFrame) -> set:
    try:
        model.validate(df.copy(), lazy=True)
    except pa.errors.SchemaErrors as exc:
        return set(exc.failure_cases["index"].dropna().astype(int))
    return set()


def test_every_row_pandera_fails_is_judged_and_the_judged_rows_give_the_same_cases():
    df = _frame()
    judged = judged_rows(df, Model.to_schema())
    failed = _failed_rows(Model, df)
    assert failed and failed <= set(judged) and len(judged) < len(df)
    assert {int(judged[i]) for i in _failed_rows(Model, df.iloc[judged].reset_index(drop=True))} == failed


def test_a_check_that_looks_at_other_rows_without_related_by_leaves_every_row_to_pandera(caplog):
    class Undeclared(Model):
        @pa.dataframe_check(name="amount_per_count")
        def amount_per_count(cls, df: pd.DataFrame) -> pd.Series:
            return ~df["key"].duplicated(keep="first")

    df = _frame()
    assert df["key"].duplicated().any()
    with caplog.at_level(logging.WARNING):
        assert len(judged_rows(df, Undeclared.to_schema())) == len(df)
    assert "amount_per_count" in caplog.text


def test_what_the_pre_check_cannot_evaluate_is_left_to_pandera():
    df = _frame(50)
    schema = Model.to_schema()
    assert len(judged_rows(df.assign(count=df["count"].astype(str)), schema)) == 50  # another type
    assert len(judged_rows(df.drop(columns="key"), schema)) == 50                    # a missing column
    clean = df[(df["code"] == "A-1") & (df["name"] == "Lamp") & (df["amount"] == 1.0) & (df["count"] == 1)]
    clean = clean.drop_duplicates("key").reset_index(drop=True)
    assert len(judged_rows(clean, schema)) == 0 and not _failed_rows(Model, clean)
