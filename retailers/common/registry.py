"""The simulated API styles and their instances.

A `RetailerSpec` describes a STYLE: one package under retailers/ (its schema.sql and app.py),
its tables, id and timestamp columns, auth style and published defaults (RETAILERS.md,
docs/contracts.md). An `Instance` is one running retailer of a style: the `code` it answers as
(any identifier, e.g. `acme_foods`; the style's own name for the default instance), and its
port, database URL and secrets, read from environment variables prefixed with the code
upper-cased without non-alphanumerics (retailer_1 -> RETAILER1_*, acme_foods -> ACMEFOODS_*).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]

API_KEY = "api_key"
OAUTH2 = "oauth2_client_credentials"
# The secrets each auth style takes; env var <PREFIX>_<NAME upper-cased>, e.g. RETAILER4_CLIENT_ID.
AUTH_SECRETS = {API_KEY: ("api_key",), OAUTH2: ("client_id", "client_secret")}
# Development defaults (local stack and tests only), from the instance's prefix lower-cased:
# retailer1_api_key_123, retailer4_client, retailer4_secret_123, acmefoods_api_key_123.
DEV_SECRETS = {"api_key": "{p}_api_key_123", "client_id": "{p}_client", "client_secret": "{p}_secret_123"}
CODE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")


@dataclass(frozen=True)
class RetailerSpec:
    code: str            # the style's name = its package under retailers/ = its default instance's code
    number: int          # 1..4: seeds its generator and picks its catalogue formats
    port: int            # default API port
    db_name: str
    default_api_key: str  # development key of the default instance ("" for OAuth2 styles)
    table: str           # the main table (orders for retailer_4): batch days, data version
    id_column: str
    ts_column: str
    id_prefix: str       # ids look like f"{id_prefix}-YYYYMMDD-NNNNNN"
    auth: str = API_KEY
    extra_tables: tuple[str, ...] = ()  # tables beside `table` (retailer_4's order_lines)
    timezone: str = "UTC"               # the stores' local time; the API's days are local days
    settings: tuple[str, ...] = ()      # integer settings of its app: --token-ttl, <PREFIX>_TOKEN_TTL

    @property
    def style(self) -> str:
        return self.code

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.table, *self.extra_tables)

    @property
    def env_prefix(self) -> str:
        return env_prefix(self.code)

    @property
    def schema_path(self) -> Path:
        return PACKAGE_DIR / self.code / "schema.sql"

    def env_port(self) -> int:
        return instance(self.code).port()

    def env_api_key(self) -> str:
        return instance(self.code).secrets()["api_key"]

    def env_database_url(self) -> str | None:
        return instance(self.code).database_url()


RETAILERS: dict[str, RetailerSpec] = {
    s.code: s
    for s in (
        RetailerSpec("retailer_1", 1, 5001, "retailer1_db", "retailer1_api_key_123",
                     "sales", "order_id", "order_date", "ORD"),
        RetailerSpec("retailer_2", 2, 5002, "retailer2_db", "retailer2_api_key_123",
                     "transactions", "transaction_number", "date", "TXN"),
        RetailerSpec("retailer_3", 3, 5003, "retailer3_db", "retailer3_api_key_123",
                     "purchases", "sale_id", "timestamp", "SAL"),
        RetailerSpec("retailer_4", 4, 5004, "retailer4_db", "",
                     "orders", "order_ref", "placed_at", "WEB", auth=OAUTH2,
                     extra_tables=("order_lines",), timezone="Europe/Paris",
                     settings=("token_ttl", "page_size")),
    )
}


def spec(code: str) -> RetailerSpec:
    """The style `code`, with a clear error listing the valid ones."""
    try:
        return RETAILERS[code]
    except KeyError:
        raise ValueError(f"Unknown retailer style {code!r}; expected one of {', '.join(RETAILERS)}") from None


def env_prefix(code: str) -> str:
    """retailer_1 -> RETAILER1, acme_foods -> ACMEFOODS (the dev stack uses the same rule)."""
    return re.sub(r"[^A-Z0-9]", "", code.upper())


@dataclass(frozen=True)
class Instance:
    """One simulated retailer: a style served as `code`; settings from its env vars."""

    code: str
    spec: RetailerSpec

    @property
    def style(self) -> str:
        return self.spec.code

    @property
    def env_prefix(self) -> str:
        return env_prefix(self.code)

    def env(self, name: str) -> str | None:
        return os.environ.get(f"{self.env_prefix}_{name.upper()}") or None

    def port(self) -> int:
        return int(self.env("port") or self.spec.port)

    def database_url(self) -> str | None:
        return self.env("database_url")

    def secrets(self, given: dict[str, str | None] | None = None) -> dict[str, str]:
        """The auth style's secrets: `given`, else env <PREFIX>_<NAME>, else the development default."""
        given = given or {}
        return {name: given.get(name) or self.env(name) or DEV_SECRETS[name].format(p=self.env_prefix.lower())
                for name in AUTH_SECRETS[self.spec.auth]}

    def settings(self, given: dict[str, int | None] | None = None) -> dict[str, int]:
        """The style's integer settings given or set in env <PREFIX>_<NAME>; absent ones are left out."""
        given = given or {}
        found = {}
        for name in self.spec.settings:
            value = given.get(name)
            raw = self.env(name)
            if value is None and raw is not None:
                try:
                    value = int(raw)
                except ValueError:
                    raise ValueError(f"{self.env_prefix}_{name.upper()}={raw!r} is not an integer") from None
            if value is not None:
                found[name] = value
        return found


def instance(code: str, style: str | None = None) -> Instance:
    """The instance `code` of `style` (default: the style named `code`)."""
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        raise ValueError(f"Retailer code {code!r} is not an identifier (letters, digits, '_' or '-', "
                         f"starting with a letter)")
    if style is None and code not in RETAILERS:
        raise ValueError(f"Retailer {code!r} is not a style ({', '.join(RETAILERS)}): say which style serves it")
    return Instance(code, spec(style or code))
