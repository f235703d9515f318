"""Where the local stack keeps its state and which ports it uses.

Everything has a default that matches docs/contracts.md and can be overridden by environment
variables (the tests point every path at a temp folder and every port at a free one):

| setting                | env var              | default                    |
|------------------------|----------------------|----------------------------|
| project root           | RETAIL_PROJECT_ROOT  | the folder of pyproject.toml |
| state dir              | RETAIL_STACK_DIR     | <root>/.stack              |
| conf/local dir         | RETAIL_CONF_LOCAL    | <root>/conf/local          |
| API logs dir           | RETAIL_LOGS_DIR      | <root>/logs                |
| data dir (for summary) | RETAIL_DATA_DIR      | <root>/data                |
| PostgreSQL port        | RETAIL_PG_PORT       | 5432                       |
| retailer N API port    | RETAILERn_PORT       | 5001, 5002, 5003           |
| retailer N API key     | RETAILERn_API_KEY    | retailerN_api_key_123      |
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
WAREHOUSE_DB = "retail_analytics"
LOADER_ROLE = "retail_loader"
READER_ROLE = "bi_reader"


def _retailer_registry():
    """The retailers' published facts (ports, keys, databases) from retailers/common/registry.py."""
    root = str(find_project_root())
    if root not in sys.path:  # retailers/ is a top-level package of the checkout, not installed
        sys.path.insert(0, root)
    from retailers.common.registry import RETAILERS as specs

    return tuple(specs.values())




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


RETAILERS = _retailer_registry()
DATABASES = (WAREHOUSE_DB, *(r.db_name for r in RETAILERS))


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
class StackConfig:
    root: Path
    stack_dir: Path
    conf_local: Path
    logs_dir: Path
    data_dir: Path
    pg_port: int
    api_ports: dict[str, int] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackConfig:
        env = dict(os.environ if env is None else env)
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
            api_ports={r.code: _port(env, f"{r.env_prefix}_PORT", r.port) for r in RETAILERS},
            api_keys={r.code: env.get(f"{r.env_prefix}_API_KEY") or r.default_api_key for r in RETAILERS},
        )
        config.check_distinct_ports()
        return config

    def check_distinct_ports(self) -> None:
        seen: dict[int, str] = {self.pg_port: "RETAIL_PG_PORT"}
        for r in RETAILERS:
            port = self.api_ports[r.code]
            if port in seen:
                raise StackError(
                    f"{r.env_prefix}_PORT and {seen[port]} are both {port}; every component needs a port of its own."
                )
            seen[port] = f"{r.env_prefix}_PORT"

    # -- paths ---------------------------------------------------------------------------
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
        return f"http://{HOST}:{self.api_ports[code]}"
