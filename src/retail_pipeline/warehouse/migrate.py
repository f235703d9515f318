"""Apply sql/warehouse/NNN_*.sql in order, once each, recorded in `schema_version`.

Each file runs in its own transaction together with its `schema_version` row, under a
transaction-level advisory lock, so concurrent callers (`make up`, tests, Airflow) serialise
and a failing file leaves nothing half-applied. Files 001-099 belong to the warehouse
(transformation), 100+ to the quality checks. The files are written to be idempotent too.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import psycopg2

logger = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[3] / "sql" / "warehouse"
_FILE = re.compile(r"^(\d{3})_[\w-]+\.sql$")
_LOCK_KEY = 72_501_001  # pg_advisory_xact_lock key for migrations

_SCHEMA_VERSION = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """A migration file failed; the message names the file and the server's error."""


def to_dsn(con: str) -> str:
    """A libpq URL from a SQLAlchemy one (`postgresql+psycopg2://` -> `postgresql://`)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", con)


def migration_files(sql_dir: Path | str = SQL_DIR) -> list[Path]:
    """The migration files in apply order; refuses two files with one number."""
    files = sorted(p for p in Path(sql_dir).iterdir() if _FILE.match(p.name))
    numbers = [p.name[:3] for p in files]
    dupes = sorted({n for n in numbers if numbers.count(n) > 1})
    if dupes:
        raise MigrationError(f"Two migration files share the number(s) {dupes} in {sql_dir}; renumber one.")
    return files


def apply_migrations(con_url: str, sql_dir: Path | str = SQL_DIR) -> list[str]:
    """Apply the pending migrations to the database at `con_url`; returns the files applied.

    `con_url` is a SQLAlchemy or libpq URL of the loader role (the owner of the warehouse).
    """
    applied: list[str] = []
    conn = psycopg2.connect(to_dsn(con_url))
    try:
        with conn:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                cur.execute(_SCHEMA_VERSION)
        for path in migration_files(sql_dir):
            text = path.read_text()
            checksum = hashlib.sha256(text.encode()).hexdigest()
            with conn:  # one transaction per file, with its schema_version row
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    cur.execute("SELECT checksum FROM schema_version WHERE version = %s", (path.name,))
                    row = cur.fetchone()
                    if row:
                        if row[0] != checksum:
                            logger.warning(
                                "Migration %s changed after it was applied; it is not re-applied. "
                                "Add a new numbered file for schema changes.", path.name)
                        continue
                    try:
                        cur.execute(text)
                    except psycopg2.Error as exc:
                        raise MigrationError(
                            f"Migration {path.name} failed and was rolled back: "
                            f"{(exc.pgerror or str(exc)).strip()}"
                        ) from exc
                    cur.execute("INSERT INTO schema_version (version, checksum) VALUES (%s, %s)",
                                (path.name, checksum))
            applied.append(path.name)
            logger.info("Applied migration %s", path.name)
    finally:
        conn.close()
    return applied
