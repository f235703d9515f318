"""SQL kept in files, one statement per file under sql/<folder>/, read by name.

`%(name)s` in a file is a bind parameter; `{name}` is an identifier or fragment composed with
psycopg2.sql (the table of the day being built), so no caller pastes values into SQL. The
load's statements are under sql/warehouse/load/ (`text`, `statement` here); retention's under
sql/retention/ (retention/sqlfiles.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from psycopg2 import sql

SQL_ROOT = Path(__file__).resolve().parents[3] / "sql"


class SqlFolder:
    """The statements of one folder under sql/; `owner` names them in the error for a missing file."""

    def __init__(self, folder: str, owner: str) -> None:
        self.path = SQL_ROOT / folder
        self.owner = owner
        self.text = lru_cache(maxsize=None)(self._read)

    def _read(self, name: str) -> str:
        """The text of <folder>/<name>.sql."""
        path = self.path / f"{name}.sql"
        try:
            return path.read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.owner} SQL file {path} is missing; is the checkout complete?") from None

    def statement(self, name: str, **parts: sql.Composable | str) -> sql.Composed:
        """The file as a composed statement, `{name}` placeholders filled (strings become identifiers)."""
        values = {k: sql.Identifier(v) if isinstance(v, str) else v for k, v in parts.items()}
        return sql.SQL(self.text(name)).format(**values)


LOAD = SqlFolder("warehouse/load", "The load's")
text, statement = LOAD.text, LOAD.statement
