"""The published, fixed facts about each retailer (ports, database names, keys, env var names).

These constants come from RETAILERS.md and docs/contracts.md; everything that differs in *how*
a retailer behaves lives in its own package (retailers/retailer_N).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class RetailerSpec:
    code: str            # dim_retailer.retailer_code, e.g. "retailer_1"
    number: int          # 1, 2, 3: used in env var names and database names
    port: int            # default API port
    db_name: str
    default_api_key: str  # development key: local stack only
    table: str
    id_column: str
    ts_column: str
    id_prefix: str       # ids look like f"{id_prefix}-YYYYMMDD-NNNNNN"

    @property
    def env_prefix(self) -> str:
        return f"RETAILER{self.number}"

    @property
    def schema_path(self) -> Path:
        return PACKAGE_DIR / self.code / "schema.sql"

    def env_port(self) -> int:
        return int(os.environ.get(f"{self.env_prefix}_PORT", self.port))

    def env_api_key(self) -> str:
        return os.environ.get(f"{self.env_prefix}_API_KEY") or self.default_api_key

    def env_database_url(self) -> str | None:
        return os.environ.get(f"{self.env_prefix}_DATABASE_URL") or None


RETAILERS: dict[str, RetailerSpec] = {
    s.code: s
    for s in (
        RetailerSpec("retailer_1", 1, 5001, "retailer1_db", "retailer1_api_key_123",
                     "sales", "order_id", "order_date", "ORD"),
        RetailerSpec("retailer_2", 2, 5002, "retailer2_db", "retailer2_api_key_123",
                     "transactions", "transaction_number", "date", "TXN"),
        RetailerSpec("retailer_3", 3, 5003, "retailer3_db", "retailer3_api_key_123",
                     "purchases", "sale_id", "timestamp", "SAL"),
    )
}


def spec(code: str) -> RetailerSpec:
    """The spec for `code`, with a clear error listing the valid codes."""
    try:
        return RETAILERS[code]
    except KeyError:
        raise ValueError(f"Unknown retailer {code!r}; expected one of {', '.join(RETAILERS)}") from None
