"""Where the dev stack keeps its state, which ports it uses and which simulators it runs.

The simulators come from the retailer registry (conf/base/retailers.yml, `simulator:` of each
entry); every setting has a default and an environment override (the tests point every path at
a temp folder and every port at a free one):

| setting                   | env var                  | default                          |
|---------------------------|--------------------------|----------------------------------|
| project root              | RETAIL_PROJECT_ROOT      | the folder of pyproject.toml     |
| state dir                 | RETAIL_STACK_DIR         | <root>/.stack                    |
| conf/local dir            | RETAIL_CONF_LOCAL        | <root>/conf/local                |
| API logs dir              | RETAIL_LOGS_DIR          | <root>/logs                      |
| data dir (for summary)    | RETAIL_DATA_DIR          | <root>/data                      |
| PostgreSQL port           | RETAIL_PG_PORT           | 5432                             |
| a retailer's API port     | <PREFIX>_PORT            | its `simulator.port`             |
| its API key (api_key)     | <PREFIX>_API_KEY         | <prefix>_api_key_123             |
| its client (oauth2)       | <PREFIX>_CLIENT_ID, _CLIENT_SECRET | <prefix>_client, <prefix>_secret_123 |

PREFIX is the retailer code upper-cased without its non-alphanumerics (retailer code acme_foods ->
ACMEFOODS); the defaults are development secrets for the local stack only, the
same rule as the simulators' (retailers/common/registry.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from retail_pipeline.registry import project_retailers
from retailers.common.registry import AUTH_SECRETS, DEV_SECRETS, env_prefix

HOST = "127.0.0.1"
WAREHOUSE_DB = "retail_analytics"
LOADER_ROLE = "retail_loader"
READER_ROLE = "bi_reader"

# The secrets each auth style needs (credentials keys, docs/contracts.md), their development
# defaults and the env prefix rule are the simulators' (retailers/common/registry.py).


class StackError(RuntimeError):
    """An expected failure with a message for a person: printed without a traceback."""


def find_project_root() -> Path:
    """RETAIL_PROJECT_ROOT, else the checkout this package lives in, else the current folder."""
    if os.environ.get("RETAIL_PROJECT_ROOT"):
        return Path(os.environ["RETAIL_PROJECT_ROOT"]).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "conf").is_dir():
            return parent
    return Path.cwd().resolve()


def _port(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a port number; set it to an integer such as {default}.") from None
    if not 1 <= port <= 65535:
        raise StackError(f"{name}={port} is outside 1..65535.")
    return port


@dataclass(frozen=True)
class Simulator:
    """One retailer's simulated system: which app style serves it, where, with which secrets."""

    code: str
    style: str
    port: int
    database: str
    auth_style: str
    secrets: dict[str, str]

    @property
    def env_prefix(self) -> str:
        return env_prefix(self.code)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @classmethod
    def from_entry(cls, code: str, entry: dict, env: dict[str, str]) -> Simulator:
        """The simulator of registry entry `code`, with the environment's overrides applied."""
        try:
            sim, auth_style = entry["simulator"], entry["api"]["auth"]["style"]
            style, port, database = sim["style"], int(sim["port"]), sim["database"]
        except (KeyError, TypeError, ValueError) as exc:
            raise StackError(f"Retailer {code!r} in conf/base/retailers.yml needs simulator: {{style, port, "
                             f"database}} and api.auth.style for the dev stack ({exc!r} is missing or wrong).") from None
        if auth_style not in AUTH_SECRETS:
            raise StackError(f"Retailer {code!r}: the dev stack knows the auth styles {', '.join(AUTH_SECRETS)}, "
                             f"not {auth_style!r}.")
        prefix = env_prefix(code)
        secrets = {name: env.get(f"{prefix}_{name.upper()}") or DEV_SECRETS[name].format(p=prefix.lower())
                   for name in AUTH_SECRETS[auth_style]}
        return cls(code, style, _port(env, f"{prefix}_PORT", port), database, auth_style, secrets)


@dataclass(frozen=True)
class StackConfig:
    root: Path
    stack_dir: Path
    conf_local: Path
    logs_dir: Path
    data_dir: Path
    pg_port: int
    simulators: dict[str, Simulator] = field(default_factory=dict)  # registry order
    retailers: dict[str, dict] = field(default_factory=dict)        # the registry entries

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, retailers: dict[str, dict] | None = None) -> StackConfig:
        """The configuration from `env` (default os.environ) and `retailers` (default: the
        project's registry, conf/base + conf/local)."""
        env = dict(os.environ if env is None else env)
        retailers = project_retailers() if retailers is None else retailers
        root = Path(env["RETAIL_PROJECT_ROOT"]).resolve() if env.get("RETAIL_PROJECT_ROOT") else find_project_root()

        def path(name: str, default: Path) -> Path:
            return Path(env[name]).resolve() if env.get(name) else default

        config = cls(
            root=root,
            stack_dir=path("RETAIL_STACK_DIR", root / ".stack"),
            conf_local=path("RETAIL_CONF_LOCAL", root / "conf" / "local"),
            logs_dir=path("RETAIL_LOGS_DIR", root / "logs"),
            data_dir=path("RETAIL_DATA_DIR", root / "data"),
            pg_port=_port(env, "RETAIL_PG_PORT", 5432),
            simulators={code: Simulator.from_entry(code, entry, env) for code, entry in retailers.items()},
            retailers=dict(retailers),
        )
        config.check_distinct()
        return config

    def check_distinct(self) -> None:
        """Every component needs a port of its own, every simulator a database of its own."""
        seen: dict[int, str] = {self.pg_port: "RETAIL_PG_PORT"}
        databases: dict[str, str] = {WAREHOUSE_DB: "the warehouse"}
        for sim in self.simulators.values():
            if sim.port in seen:
                raise StackError(f"{sim.env_prefix}_PORT and {seen[sim.port]} are both {sim.port}; "
                                 f"every component needs a port of its own.")
            seen[sim.port] = f"{sim.env_prefix}_PORT"
            if sim.database in databases:
                raise StackError(f"Retailers {sim.code} and {databases[sim.database]} both use the database "
                                 f"{sim.database}; give each its own simulator.database in retailers.yml.")
            databases[sim.database] = sim.code

    # -- derived ---------------------------------------------------------------------------
    @property
    def databases(self) -> tuple[str, ...]:
        return (WAREHOUSE_DB, *(sim.database for sim in self.simulators.values()))

    @property
    def api_ports(self) -> dict[str, int]:
        return {code: sim.port for code, sim in self.simulators.items()}

    @property
    def pgdata(self) -> Path:
        return self.stack_dir / "pgdata"

    @property
    def secrets_file(self) -> Path:
        return self.stack_dir / "secrets.json"

    @property
    def state_file(self) -> Path:
        return self.stack_dir / "state.json"

    @property
    def pgpass_file(self) -> Path:
        return self.stack_dir / "pgpass"

    @property
    def credentials_file(self) -> Path:
        return self.conf_local / "credentials.yml"

    def log_path(self, code: str) -> Path:
        return self.logs_dir / f"{code}.log"

    def api_url(self, code: str) -> str:
        return self.simulators[code].base_url

    def display(self, path: Path) -> str:
        """`path` relative to the project root when it is inside it (for messages)."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)
