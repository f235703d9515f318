"""Retention's SQL, one statement per file under sql/retention/, read by name
(`count/fact_sales_key`); `{partition}` placeholders become identifiers (psycopg2.sql)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from psycopg2 import sql

SQL_DIR = Path(__file__).resolve().parents[3] / "sql" / "retention"


@lru_cache(maxsize=None)
def text(name: str) -> str:
    path = SQL_DIR / f"{name}.sql"
    try:
        return path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"Retention's SQL file {path} is missing; is the checkout complete?") from None


def statement(name: str, **identifiers: str) -> sql.Composed:
    return sql.SQL(text(name)).format(**{k: sql.Identifier(v) for k, v in identifiers.items()})
