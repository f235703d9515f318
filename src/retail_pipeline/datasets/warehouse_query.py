"""WarehouseQueryDataset: kedro-datasets' SQLQueryDataset for the quality SQL, plus the sale rules.

The SQL lives in a file (``sql/quality/*.sql``) and names its inputs as SQLAlchemy bind
parameters (``:run_date``, ``:window_start`` ...). The catalog entry supplies their values,
usually from the run-window resolvers, so a node receives a plain DataFrame and stays pure:

.. code-block:: yaml

    dq_volume:
      type: retail_pipeline.datasets.warehouse_query.WarehouseQueryDataset
      filepath: sql/quality/volume_daily.sql
      credentials: warehouse
      params:
        run_date: ${run_date:${runtime_params:run_date,""}}
        history_start: ${window_start:${runtime_params:run_date,""},28}

What it adds to ``pandas.SQLQueryDataset`` (connection, engine cache and file reading are its):
every query also receives the sale rules (``schemas.rules.SALE_RULES``: ``:max_quantity``,
``:total_tolerance`` ...) as bind parameters, so quality SQL states no bound of its own and a
catalog entry cannot redefine them; and a failure names the SQL file, the database (never the
password) and the server's message on one line, suggesting a migration only when a relation or
column is missing (UndefinedTable / UndefinedColumn). Plain queries (the notebooks') use
``pandas.SQLQueryDataset`` directly.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pandas as pd
from kedro.io.core import DatasetError
from kedro_datasets.pandas import SQLQueryDataset
from sqlalchemy.exc import SQLAlchemyError

from retail_pipeline.schemas.rules import SALE_RULES


def _project_root() -> Path:
    # src/retail_pipeline/datasets/warehouse_query.py -> project root
    return Path(__file__).resolve().parents[3]


# SQLSTATEs of a schema the query expects but the database lacks: a migration is missing.
_MISSING_SCHEMA = {"42P01": "undefined table", "42703": "undefined column"}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe_db_error(exc: BaseException) -> tuple[str, str | None]:
    """(the server's message on one line, its SQLSTATE or None) for a DBAPI/SQLAlchemy error."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "pgcode", None)
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary:
        extra = [getattr(diag, "message_detail", None), getattr(diag, "message_hint", None)]
        message = primary + "".join(f" ({_one_line(e)})" for e in extra if e)
    else:
        message = str(orig) or type(orig).__name__
    return _one_line(message), code


class QueryChunks:
    """A quality query's result, read when iterated, a frame of at most `chunk_rows` rows at a
    time (WarehouseQueryDataset with `chunk_rows`); iterating again runs the query again."""

    def __init__(self, dataset: "WarehouseQueryDataset"):
        self._dataset = dataset

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return self._dataset.chunks()


class WarehouseQueryDataset(SQLQueryDataset):
    """Load the result of a quality SQL file, with the sale rules bound, as a DataFrame."""

    def __init__(
        self,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        chunk_rows: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not credentials or not credentials.get("con"):
            raise DatasetError(
                f"WarehouseQueryDataset({filepath}) needs credentials with a 'con' SQLAlchemy URL "
                "(e.g. credentials: warehouse, from conf/local/credentials.yml)."
            )
        path = Path(filepath)
        self._sql_path = path if path.is_absolute() else _project_root() / path
        self._params = dict(params or {})
        self._chunk_rows = int(chunk_rows) if chunk_rows else None
        clash = sorted(set(self._params) & set(SALE_RULES))
        if clash:
            raise DatasetError(
                f"WarehouseQueryDataset({filepath}): {', '.join(clash)} are sale rules, passed to "
                "every query from src/retail_pipeline/schemas/rules.py (SALE_RULES); remove them "
                "from the catalog entry's params (each rule is stated once)."
            )
        super().__init__(filepath=str(self._sql_path), credentials={"pool_pre_ping": True, **credentials},
                         metadata=metadata)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._sql_path), "params": self._params, "chunk_rows": self._chunk_rows}

    def _safe_target(self) -> str:
        try:
            return self.engine.url.render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - never echo an unparsable URL, it may hold a password
            return "<warehouse>"

    def _display_path(self) -> str:
        try:
            return str(self._sql_path.relative_to(_project_root()))
        except ValueError:
            return str(self._sql_path)

    def bind_parameters(self) -> dict[str, Any]:
        """What the query receives: the sale rules, then the entry's own params."""
        return {**SALE_RULES, **self._params}

    def load(self) -> pd.DataFrame | QueryChunks:
        """The result as one frame; with `chunk_rows`, a `QueryChunks` that runs the query when
        iterated, `chunk_rows` rows a frame (a row per fact line of a big day)."""
        if self._chunk_rows:
            return QueryChunks(self)
        sql = self._sql()
        try:
            with self.engine.connect() as conn:
                # coerce_float=False: money stays Decimal, exact to the cent.
                return pd.read_sql_query(sql, conn, params=self.bind_parameters(), coerce_float=False)
        except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
            raise self._failure(exc) from None

    def chunks(self) -> Iterator[pd.DataFrame]:
        """The result through a server-side cursor, so only one chunk is ever Python objects."""
        sql = self._sql()
        try:
            with self.engine.connect() as conn:
                yield from pd.read_sql_query(sql, conn.execution_options(stream_results=True),
                                             params=self.bind_parameters(), coerce_float=False,
                                             chunksize=self._chunk_rows)
        except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
            raise self._failure(exc) from None

    def _sql(self):
        from sqlalchemy import text

        try:
            return text(self._sql_path.read_text())  # text(): named `:binds`
        except OSError as exc:
            raise DatasetError(f"Cannot read quality SQL file {self._display_path()}: {exc}") from exc

    def _failure(self, exc: BaseException) -> DatasetError:
        """One line: the SQL file, the database (no password), the server's message and a hint."""
        # pandas re-raises the driver's error as its own DatabaseError, from the original
        message, code = describe_db_error(exc.__cause__ or exc)
        if code in _MISSING_SCHEMA:
            hint = ("the warehouse lacks a table or column this query needs: migrate it "
                    "(python -m retail_pipeline.warehouse migrate)")
        elif code is None:
            hint = "is the warehouse reachable (make status)?"
        else:
            hint = f"SQLSTATE {code}"
        return DatasetError(f"Quality query {self._display_path()} failed on {self._safe_target()}: {message} [{hint}]")

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._sql_path.name} is a read-only warehouse query")

    def _exists(self) -> bool:
        return self._sql_path.exists()
