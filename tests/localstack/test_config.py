"""The stack's configuration and the credentials file it writes: no servers needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from retail_pipeline.localstack.__main__ import main
from retail_pipeline.localstack.config import StackConfig, StackError
from retail_pipeline.localstack.stack import credentials_yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_defaults_match_the_contract(tmp_path):
    config = StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path)})
    assert config.pg_port == 5432
    assert config.api_ports == {"retailer_1": 5001, "retailer_2": 5002, "retailer_3": 5003}
    assert config.stack_dir == tmp_path / ".stack"
    assert config.conf_local == tmp_path / "conf" / "local"
    assert config.log_path("retailer_2") == tmp_path / "logs" / "retailer_2.log"
    assert config.api_keys["retailer_3"] == "retailer3_api_key_123"


def test_environment_overrides_ports_and_paths(tmp_path):
    config = StackConfig.from_env({
        "RETAIL_PROJECT_ROOT": str(tmp_path), "RETAIL_PG_PORT": "6543", "RETAILER2_PORT": "6002",
        "RETAIL_STACK_DIR": str(tmp_path / "s"), "RETAIL_CONF_LOCAL": str(tmp_path / "c"),
    })
    assert (config.pg_port, config.api_ports["retailer_2"]) == (6543, 6002)
    assert config.credentials_file == tmp_path / "c" / "credentials.yml"
    assert config.secrets_file == tmp_path / "s" / "secrets.json"


@pytest.mark.parametrize("env, message", [
    ({"RETAILER1_PORT": "abc"}, "RETAILER1_PORT='abc' is not a port number"),
    ({"RETAIL_PG_PORT": "70000"}, "RETAIL_PG_PORT=70000 is outside"),
    ({"RETAILER3_PORT": "5001"}, "RETAILER3_PORT and RETAILER1_PORT are both 5001"),
])
def test_bad_port_settings_are_refused_clearly(tmp_path, env, message):
    with pytest.raises(StackError, match=re.escape(message)):
        StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path), **env})


def test_credentials_file_has_exactly_the_contract_layout(tmp_path):
    """Same keys, nesting and values as the block in docs/contracts.md, passwords filled in."""
    contract = (PROJECT_ROOT / "docs" / "contracts.md").read_text()
    block = re.search(r"```yaml\n(warehouse:.*?)```", contract, re.S).group(1)
    expected = yaml.safe_load(block.replace("<pw>", "PW"))

    config = StackConfig.from_env({"RETAIL_PROJECT_ROOT": str(tmp_path)})
    written = credentials_yaml(config, {"postgres": "x", "retail_loader": "PW", "bi_reader": "PW"})
    assert yaml.safe_load(written) == expected


def test_days_helper_defaults_to_the_week_ending_yesterday(capsys):
    from datetime import UTC, datetime, timedelta

    assert main(["days"]) == 0
    days = capsys.readouterr().out.split()
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert days == [(yesterday - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    assert main(["days", "--start", "2024-02-28", "--end", "2024-03-01"]) == 0
    assert capsys.readouterr().out.split() == ["2024-02-28", "2024-02-29", "2024-03-01"]
