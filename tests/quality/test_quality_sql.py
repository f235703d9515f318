"""The quality SQL and the dataset that runs it: no sum or cast that can overflow, the sale rules
as bind parameters of every query (never restated in the catalog), and errors that name the SQL
file and the server's message, suggesting a migration only when a relation or column is missing."""

from __future__ import annotations

import re

import pytest
import yaml
from kedro.io.core import DatasetError

from retail_pipeline.datasets.warehouse_query import WarehouseQueryDataset
from retail_pipeline.devstack.postgres import free_port
from retail_pipeline.schemas.rules import SALE_RULES
from tests.fixtures.kedro_project import PROJECT_ROOT

SQL_FILES = sorted((PROJECT_ROOT / "sql" / "quality").glob("*.sql"))
CATALOG = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog_quality.yml").read_text())
QUERIES = {name: entry for name, entry in CATALOG.items()
           if not name.startswith("_") and str(entry.get("type", "")).endswith("WarehouseQueryDataset")}


def _code(path) -> str:
    return re.sub(r"--[^\n]*", "", path.read_text())


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_no_quality_query_casts_to_a_bounded_numeric(path):
    # numeric(p, s) overflows on a sum or value beyond 10^(p-s): sums stay unconstrained numeric
    assert not re.search(r"numeric\s*\(", _code(path), re.IGNORECASE), path.name


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_bind_parameter_of_a_query_is_given(name):
    entry = QUERIES[name]
    sql = _code(PROJECT_ROOT / entry["filepath"])
    wanted = set(re.findall(r"(?<!:):([a-z_][a-z0-9_]*)", sql))
    given = set(entry.get("params") or {}) | set(SALE_RULES)
    assert wanted <= given, f"{name}: {sorted(wanted - given)} have no value"
    assert not set(entry.get("params") or {}) & set(SALE_RULES), f"{name} restates a sale rule"


def test_business_rules_take_their_bounds_from_the_sale_rules():
    sql = _code(PROJECT_ROOT / "sql/quality/business_rules.sql")
    for rule in ("total_tolerance", "max_quantity", "max_unit_price", "max_total_amount", "max_extra_amount",
                 "max_discount_percentage", "money_scale"):
        assert f":{rule}" in sql
    assert not re.search(r"\b0\.01\b|\b10000\b", sql)


def test_every_query_file_is_in_the_catalog():
    assert {p.name for p in SQL_FILES} == {PROJECT_ROOT.joinpath(e["filepath"]).name for e in QUERIES.values()}


def _query(tmp_path, pg_server, sql: str, con: str | None = None, **params) -> WarehouseQueryDataset:
    path = tmp_path / "probe.sql"
    path.write_text(sql)
    return WarehouseQueryDataset(filepath=str(path), credentials={"con": con or pg_server.url("postgres")},
                                 params=params)


def test_the_sale_rules_are_bind_parameters_of_every_query(tmp_path, pg_server):
    frame = _query(tmp_path, pg_server, "SELECT :max_quantity AS q, :total_tolerance AS t, :window AS w",
                   window="x").load()
    assert [float(v) if k == "t" else v for k, v in frame.iloc[0].items()] == [
        SALE_RULES["max_quantity"], SALE_RULES["total_tolerance"], "x"]
    with pytest.raises(DatasetError, match="max_quantity are sale rules"):
        _query(tmp_path, pg_server, "SELECT 1", max_quantity=5)


def test_a_server_error_names_the_file_and_the_message_without_a_migration_hint(tmp_path, pg_server):
    with pytest.raises(DatasetError) as err:
        _query(tmp_path, pg_server, "SELECT (10::numeric ^ 30)::numeric(18, 2)").load()
    message = str(err.value)
    assert "probe.sql failed on" in message and "numeric field overflow" in message
    assert "migrate" not in message and "\n" not in message and pg_server.superuser_password not in message


def test_a_missing_relation_or_column_suggests_migrating(tmp_path, pg_server):
    for sql, says in (("SELECT * FROM fact_sales_nowhere", 'relation "fact_sales_nowhere" does not exist'),
                      ("SELECT no_such_column FROM pg_class", 'column "no_such_column" does not exist')):
        with pytest.raises(DatasetError) as err:
            _query(tmp_path, pg_server, sql).load()
        assert says in str(err.value) and "python -m retail_pipeline.warehouse migrate" in str(err.value)


def test_an_unreachable_warehouse_is_named_as_such(tmp_path, pg_server):
    con = f"postgresql+psycopg2://loader:pw-123@127.0.0.1:{free_port()}/wh"
    with pytest.raises(DatasetError) as err:
        _query(tmp_path, pg_server, "SELECT 1", con=con).load()
    message = str(err.value)
    assert "Connection refused" in message and "reachable" in message
    assert "migrate" not in message and "pw-123" not in message
