"""The stack's configuration, the credentials file and the summary it derives from the retailer
registry: no servers needed."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from retail_pipeline.devstack.__main__ import main
from retail_pipeline.devstack.config import StackConfig, StackError, env_prefix
from retail_pipeline.devstack.credentials import credentials_yaml
from retail_pipeline.devstack.summary import summary
from retail_pipeline.registry import load_retailers, project_retailers

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"postgres": "x", "retail_loader": "PW", "bi_reader": "PW"}


@pytest.fixture
def fifth_registry(tmp_path) -> dict:
    """A copy of the project's conf with one more retailer, acme_foods, served by the
    retailer_2 simulator style on its own port and database: configuration only."""
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "local").mkdir()
    registry = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "retailers.yml").read_text())
    acme = copy.deepcopy(registry["retailers"]["retailer_2"])
    acme.update(name="Acme Foods", retailer_id=5, simulator={"style": "retailer_2", "port": 5005,
                                                                "database": "acme_foods_db"})
    registry["retailers"]["acme_foods"] = acme
    (conf / "base" / "retailers.yml").write_text(yaml.safe_dump(registry, sort_keys=False))
    return load_retailers(conf, "local")


def test_defaults_come_from_the_registry(tmp_path):
    config = StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path)})
    registry = project_retailers()
    assert config.pg_port == 5432
    assert list(config.simulators) == list(registry)
    assert config.api_ports == {code: entry["simulator"]["port"] for code, entry in registry.items()}
    assert config.api_ports == {"retailer_1": 5001, "retailer_2": 5002, "retailer_3": 5003, "retailer_4": 5004}
    assert config.databases == ("retail_analytics", "retailer1_db", "retailer2_db", "retailer3_db", "retailer4_db")
    assert config.stack_dir == tmp_path / ".stack"
    assert config.conf_local == tmp_path / "conf" / "local"
    assert config.log_path("retailer_2") == tmp_path / "logs" / "retailer_2.log"
    assert config.simulators["retailer_3"].secrets == {"api_key": "retailer3_api_key_123"}
    assert config.simulators["retailer_4"].secrets == {"client_id": "retailer4_client",
                                                       "client_secret": "retailer4_secret_123"}


def test_environment_overrides_ports_paths_and_secrets(tmp_path):
    config = StackConfig.from_env({
        "RETAIL_PROJECT_ROOT": str(tmp_path), "RETAIL_PG_PORT": "6543", "RETAILER2_PORT": "6002",
        "RETAIL_STACK_DIR": str(tmp_path / "s"), "RETAIL_CONF_LOCAL": str(tmp_path / "c"),
        "RETAILER1_API_KEY": "k1", "RETAILER4_CLIENT_SECRET": "s4",
    })
    assert (config.pg_port, config.api_ports["retailer_2"]) == (6543, 6002)
    assert config.credentials_file == tmp_path / "c" / "credentials.yml"
    assert config.secrets_file == tmp_path / "s" / "secrets.json"
    assert config.simulators["retailer_1"].secrets == {"api_key": "k1"}
    assert config.simulators["retailer_4"].secrets["client_secret"] == "s4"


@pytest.mark.parametrize("env, message", [
    ({"RETAILER1_PORT": "abc"}, "RETAILER1_PORT='abc' is not a port number"),
    ({"RETAIL_PG_PORT": "70000"}, "RETAIL_PG_PORT=70000 is outside"),
    ({"RETAILER3_PORT": "5001"}, "RETAILER3_PORT and RETAILER1_PORT are both 5001"),
    ({"RETAILER4_PORT": "5432"}, "RETAILER4_PORT and RETAIL_PG_PORT are both 5432"),
])
def test_bad_port_settings_are_refused_clearly(tmp_path, env, message):
    with pytest.raises(StackError, match=re.escape(message)):
        StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path), **env})


def test_a_registry_entry_without_a_usable_simulator_is_refused_clearly(tmp_path):
    registry = copy.deepcopy(project_retailers())
    del registry["retailer_2"]["simulator"]["port"]
    with pytest.raises(StackError, match="Retailer 'retailer_2'.*simulator"):
        StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path)}, registry)
    registry = copy.deepcopy(project_retailers())
    registry["retailer_3"]["simulator"]["database"] = "retailer1_db"
    with pytest.raises(StackError, match="retailer_3 and retailer_1 both use the database retailer1_db"):
        StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path)}, registry)
    registry = copy.deepcopy(project_retailers())
    registry["retailer_1"]["api"]["auth"]["style"] = "kerberos"
    with pytest.raises(StackError, match="not 'kerberos'"):
        StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path)}, registry)


def test_credentials_file_has_exactly_the_contract_layout(tmp_path):
    """Same keys, nesting and values as the block in docs/contracts.md, passwords filled in."""
    contract = (PROJECT_ROOT / "docs" / "contracts.md").read_text()
    block = re.search(r"```yaml\n(warehouse:.*?)```", contract, re.S).group(1)
    expected = yaml.safe_load(block.replace("<pw>", "PW"))

    config = StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path)})
    assert yaml.safe_load(credentials_yaml(config, PASSWORDS)) == expected


def test_credentials_follow_each_retailers_auth_style(tmp_path):
    config = StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path), "RETAILER4_PORT": "6004"})
    written = yaml.safe_load(credentials_yaml(config, PASSWORDS))
    for code, entry in project_retailers().items():
        api = written[f"{code}_api"]
        assert api["base_url"] == f"http://127.0.0.1:{config.api_ports[code]}"
        keys = {"api_key": {"api_key"}, "oauth2_client_credentials": {"client_id", "client_secret"}}
        assert set(api) - {"base_url"} == keys[entry["api"]["auth"]["style"]], code
        assert written[f"{code}_db"]["con"].endswith(f"@127.0.0.1:5432/{entry['simulator']['database']}")
    assert written["retailer_4_api"]["base_url"] == "http://127.0.0.1:6004"


def test_a_fifth_retailer_is_configuration_only(tmp_path, fifth_registry, capsys):
    """acme_foods, added to the registry only, gets its port (and env override), database,
    credentials and summary lines; nothing else about the others changes."""
    env = {"RETAIL_PROJECT_ROOT": str(tmp_path), "RETAIL_STACK_DIR": str(tmp_path / "no-stack")}
    assert env_prefix("acme_foods") == "ACMEFOODS"
    config = StackConfig.from_env(env, fifth_registry)
    assert list(config.simulators) == ["retailer_1", "retailer_2", "retailer_3", "retailer_4", "acme_foods"]
    acme = config.simulators["acme_foods"]
    assert (acme.style, acme.port, acme.database) == ("retailer_2", 5005, "acme_foods_db")
    assert config.databases[-1] == "acme_foods_db"
    assert StackConfig.from_env({**env, "ACMEFOODS_PORT": "6005"}, fifth_registry).api_ports["acme_foods"] == 6005

    written = yaml.safe_load(credentials_yaml(config, PASSWORDS))
    assert written["acme_foods_api"] == {"base_url": "http://127.0.0.1:5005", "api_key": "acmefoods_api_key_123"}
    assert written["acme_foods_db"] == {"con": "postgresql://retail_loader:PW@127.0.0.1:5432/acme_foods_db"}
    base = StackConfig.from_env(env)
    assert {k: v for k, v in written.items() if not k.startswith("acme_foods")} == yaml.safe_load(
        credentials_yaml(base, PASSWORDS))

    assert summary(config) == 0
    out = capsys.readouterr().out
    calls = out.split("The retailer APIs")[1]
    assert "# acme_foods (Acme Foods, retailer_2 simulator)" in calls
    assert ('curl -H "X-API-Key: acmefoods_api_key_123" "http://localhost:5005/transactions?from=' in calls)
    for code in project_retailers():
        assert f"# {code} (" in calls


def test_summary_calls_follow_the_auth_style_and_date_placement(tmp_path, capsys):
    config = StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path), "RETAIL_STACK_DIR": str(tmp_path / "s")})
    assert summary(config) == 0
    lines = [line.strip() for line in capsys.readouterr().out.split("The retailer APIs")[1].splitlines()]
    token = next(line for line in lines if line.startswith("TOKEN="))
    assert "-u retailer4_client:retailer4_secret_123 -d grant_type=client_credentials" in token
    assert '"http://localhost:5004/oauth/token"' in token
    assert any(line.startswith('curl -H "Authorization: Bearer $TOKEN" "http://localhost:5004/v2/orders?since=')
               for line in lines)
    assert any(line.startswith('curl -X POST -H "apikey: retailer3_api_key_123"') and '"dateFrom"' in line
               for line in lines)
    assert any('-H "Authorization: Bearer retailer1_api_key_123"' in line for line in lines)


def test_days_helper_defaults_to_the_week_ending_yesterday(capsys):
    from datetime import UTC, datetime, timedelta

    assert main(["days"]) == 0
    days = capsys.readouterr().out.split()
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert days == [(yesterday - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    assert main(["days", "--start", "2024-02-28", "--end", "2024-03-01"]) == 0
    assert capsys.readouterr().out.split() == ["2024-02-28", "2024-02-29", "2024-03-01"]
