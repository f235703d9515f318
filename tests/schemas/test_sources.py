"""The source schema comes from the registry's field mapping: written once, checked on load."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest
import yaml

from retail_pipeline.schemas.sources import declared_fields, source_schema
from tests.fixtures.kedro_project import PROJECT_ROOT

REGISTRY = yaml.safe_load((PROJECT_ROOT / "conf/base/retailers.yml").read_text())["retailers"]


def test_declared_fields_flatten_composite_ids_in_mapping_order():
    assert declared_fields(REGISTRY["retailer_4"]["source"]) == [
        "order_ref", "line_no", "placed_at", "customer_ref", "shop_ref", "sku", "title", "family", "units",
        "unit_price_cents", "line_total_cents"]
    assert declared_fields(REGISTRY["retailer_1"]["source"]) == [
        "order_id", "order_date", "customer_id", "store_id", "sku", "product_name", "category", "quantity",
        "price", "total", "discount_percentage"]
    assert declared_fields({"fields": {"transaction_id": ["a", "b"], "store_id": "a"}}) == ["a", "b"]


@pytest.mark.parametrize("mapped", [[], [""], [None], 3, ["a", 1]])
def test_a_malformed_mapping_names_the_field_and_the_file(mapped):
    fields = {"transaction_id": mapped}
    with pytest.raises(ValueError, match="source.fields.transaction_id.*conf/base/retailers.yml"):
        declared_fields({"fields": fields})


def served(fields: list[str], **overrides) -> pd.DataFrame:
    data = pd.DataFrame({name: [None, "x"] for name in fields})
    data["source_page"] = pd.Series([1, 2], dtype="int64")
    data["source_record"] = pd.Series(['{"a": 1}', '{"b": 2}'], dtype="str")
    for name, values in overrides.items():
        data[name] = values
    return data


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_every_registry_entry_gives_a_schema_that_accepts_its_shape_whatever_the_values(code):
    fields = declared_fields(REGISTRY[code]["source"])
    schema = source_schema(fields)
    data = served(fields, extra_field=[1, 2])  # extra served fields are allowed
    data[fields[0]] = ["'; DROP TABLE x; --", -1]  # values are not judged here
    assert schema.validate(data) is not None


def test_a_missing_field_or_a_broken_extraction_column_fails_the_load():
    fields = declared_fields(REGISTRY["retailer_4"]["source"])
    schema = source_schema(fields)
    with pytest.raises(pa.errors.SchemaError, match="line_no"):
        schema.validate(served(fields).drop(columns="line_no"))
    with pytest.raises(pa.errors.SchemaError, match="source_page"):
        schema.validate(served(fields, source_page=pd.Series([0, 1], dtype="int64")))
    with pytest.raises(pa.errors.SchemaError, match="source_record"):
        schema.validate(served(fields, source_record=pd.Series(["{}", "x"], dtype="str")))


def test_an_empty_extraction_has_the_shape():
    fields = declared_fields(REGISTRY["retailer_3"]["source"])
    empty = pd.DataFrame({name: pd.Series([], dtype=object) for name in fields})
    empty["source_record"] = pd.Series([], dtype="str")
    empty["source_page"] = pd.Series([], dtype="int64")
    assert source_schema(fields).validate(empty).empty
