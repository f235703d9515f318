"""The warehouse load's SQL, one file per statement under sql/warehouse/load/, read by name.

`%(name)s` in a file is a bind parameter; `{name}` is an identifier or fragment composed with
psycopg2.sql (the table of the day being built), so the loader never pastes values into SQL.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from psycopg2 import sql

LOAD_SQL_DIR = Path(__file__).resolve().parents[3] / "sql" / "warehouse" / "load"


@lru_cache(maxsize=None)
def text(name: str) -> str:
    """The text of sql/warehouse/load/<name>.sql."""
    path = LOAD_SQL_DIR / f"{name}.sql"
    try:
        return path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"The load's SQL file {path} is missing; is the checkout complete?") from None


def statement(name: str, **parts: sql.Composable | str) -> sql.Composed:
    """The file as a composed statement, `{name}` placeholders filled (strings become identifiers)."""
    values = {k: sql.Identifier(v) if isinstance(v, str) else v for k, v in parts.items()}
    return sql.SQL(text(name)).format(**values)
