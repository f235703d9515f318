"""The retailer registry (conf/base/retailers.yml): loaded, validated, and the one source the
pipelines, the catalog and the parameters take their retailers from."""

from __future__ import annotations

import copy

import pytest
import yaml

from retail_pipeline.registry import REQUIRED, RegistryError, load_retailers, project_retailers, validate
from tests.fixtures.kedro_project import PROJECT_ROOT, placeholder_credentials


def session(project, **runtime_params):
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    configure_project("retail_pipeline")
    return KedroSession.create(project_path=PROJECT_ROOT, conf_source=str(project.conf),
                               runtime_params=runtime_params or None)


def test_the_project_registry_loads_and_every_entry_has_the_keys():
    retailers = project_retailers("base")
    assert retailers == load_retailers(PROJECT_ROOT / "conf", "base")
    assert len(retailers) >= 4
    for code, entry in retailers.items():
        assert set(REQUIRED) <= set(entry), code
        assert entry["api"]["auth"]["style"] and entry["api"]["paging"]["style"], code
        assert {"transaction_id", "transaction_ts", "quantity", "total_amount"} <= set(entry["source"]["fields"]), code
        assert {"style", "port", "database"} <= set(entry["simulator"]), code
    ids = [entry["retailer_id"] for entry in retailers.values()]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("change, message", [
    (lambda r: r["retailer_2"].pop("timezone"), r"retailers.retailer_2 lacks timezone"),
    (lambda r: r["retailer_3"].update(retailer_id=1), r"retailer_id 1 is given to both retailer_1 and retailer_3"),
    (lambda r: r.update({"acme-foods": copy.deepcopy(r["retailer_1"])}), r"'acme-foods' is not an identifier"),
    (lambda r: r.update({"9lives": copy.deepcopy(r["retailer_1"])}), r"'9lives' is not an identifier"),
    (lambda r: r["retailer_1"].update(retailer_id="one"), r"retailer_1.retailer_id must be a positive whole number"),
    (lambda r: r["retailer_4"].update(timezone="Europe/Pariss"), r"'Europe/Pariss' is not an IANA time zone"),
    (lambda r: r["retailer_1"].update(api="GET /sales"), r"retailers.retailer_1.api must be a mapping"),
])
def test_a_registry_that_cannot_be_used_is_refused_naming_the_fix(change, message):
    retailers = copy.deepcopy(project_retailers("base"))
    change(retailers)
    with pytest.raises(RegistryError, match=message):
        validate(retailers)


def test_an_unknown_auth_or_paging_style_is_left_to_the_extraction():
    retailers = copy.deepcopy(project_retailers("base"))
    retailers["retailer_1"]["api"]["auth"]["style"] = "carrier_pigeon"
    assert validate(retailers)["retailer_1"]["api"]["auth"]["style"] == "carrier_pigeon"


def test_an_env_adds_a_retailer_or_changes_one_without_repeating_the_others(kedro_project):
    acme = {**copy.deepcopy(project_retailers("base")["retailer_2"]), "name": "Acme Foods", "retailer_id": 5}
    kedro_project.write_yaml("local/retailers.yml", {"retailers": {
        "acme_foods": acme, "retailer_1": {"name": "Retailer One"}}})
    retailers = kedro_project.retailers()
    assert list(retailers)[-1] == "acme_foods" and len(retailers) == len(project_retailers("base")) + 1
    assert retailers["retailer_1"]["name"] == "Retailer One"
    assert retailers["retailer_1"]["api"] == project_retailers("base")["retailer_1"]["api"]
    # The session reads the same registry: parameters, each entry with its code.
    kedro_project.write_yaml("local/credentials.yml", placeholder_credentials(retailers))
    with session(kedro_project, run_date="2024-01-15") as s:
        params = s.load_context().params
    assert list(params["retailers"]) == list(retailers)
    assert params["retailers"]["acme_foods"]["code"] == "acme_foods"
    assert params["retailers"]["acme_foods"]["retailer_id"] == 5


def test_pipelines_follow_the_registry_of_each_session(kedro_project, tmp_path):
    """Two sessions in one process, with different registries: each builds its own namespaces
    (Kedro caches the project's pipelines; the registry hook rebuilds them when the codes differ)."""
    from kedro.framework.project import pipelines

    from tests.fixtures.kedro_project import KedroProject

    only = {"shop_a": copy.deepcopy(project_retailers("base")["retailer_1"])}
    (kedro_project.conf / "base" / "retailers.yml").write_text(yaml.safe_dump({"retailers": only}))
    kedro_project.write_yaml("local/credentials.yml", placeholder_credentials(only))
    with session(kedro_project) as s:
        s.load_context()
        assert {n.namespace for n in pipelines["ingestion"].nodes} == {"shop_a"}
        assert {n.namespace for n in pipelines["__default__"].nodes} == {"shop_a", None}

    other = KedroProject(tmp_path / "other")
    other.write_yaml("local/credentials.yml", placeholder_credentials())
    with session(other) as s:
        s.load_context()
        assert {n.namespace for n in pipelines["ingestion"].nodes} == set(project_retailers("base"))


def test_each_retailer_gets_its_own_credentials_and_a_missing_one_stops_the_catalog(kedro_project):
    from kedro.framework.project import settings

    retailers = project_retailers("base")
    credentials = placeholder_credentials()
    for n, code in enumerate(retailers):
        credentials[f"{code}_api"]["base_url"] = f"http://127.0.0.1:{9000 + n}"
    kedro_project.write_yaml("local/credentials.yml", credentials)
    with session(kedro_project, run_date="2024-01-15") as s:
        context = s.load_context()
        for catalog in (context.catalog, context._get_catalog(catalog_class=settings.DATA_CATALOG_CLASS)):
            for code in retailers:
                config = catalog.config_resolver.resolve_pattern(f"{code}.api_sales")
                assert config["credentials"] == credentials[f"{code}_api"], code
                assert config["retailer"] == code

    missing = next(iter(reversed(retailers)))
    del credentials[f"{missing}_api"]
    (kedro_project.conf / "local" / "credentials.yml").write_text(yaml.safe_dump(credentials))
    with session(kedro_project, run_date="2024-01-15") as s:
        with pytest.raises(KeyError, match=f"Unable to find credentials '{missing}_api'"):
            s.load_context().catalog


def test_ingested_at_is_a_parameter_fixed_for_the_run_and_checked_when_given(kedro_project):
    from retail_pipeline.run_window import InvalidRunDate

    with session(kedro_project, run_date="2024-01-15") as s:
        context = s.load_context()
        stamp = context.catalog.load("params:ingestion_time")
    assert len(stamp) == 20 and stamp.endswith("Z") and stamp[10] == "T"
    with session(kedro_project, run_date="2024-01-15", ingested_at="2024-01-16T02:00:00Z") as s:
        assert s.load_context().params["ingestion_time"] == "2024-01-16T02:00:00Z"
    with session(kedro_project, run_date="2024-01-15", ingested_at="2024-01-16 02:00") as s:
        with pytest.raises(Exception) as err:
            s.load_context().params  # noqa: B018
    assert any(isinstance(e, InvalidRunDate) for e in _chain(err.value)), err.value


def _chain(exc):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__
