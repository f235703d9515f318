"""`IdFilesDataset`: a window's transaction ids handed from one quality node to another on disk.

The quality pipeline compares the ids of the zone files, the source and the warehouse. A big
day's ids held in memory between nodes grew the run with the day (~50 bytes a row); here the
node that reads them (a generator node) saves them chunk by chunk, each chunk one Parquet file
in a folder of this dataset's own, and `load()` returns a `pyarrow.dataset.Dataset` over those
files, whose files the id checks have DuckDB read in batches. Nothing is read at load.

`save({"begin": n})` voids what was saved (the source was walked again: the earlier walk's ids
are not the window's), as the raw zone's saves do. `save(IdsNotRead(reason))` says the node did
not read the ids at all (no manifest: the source is not read again); `load()` then returns it,
so a check does not take it for a window without rows. The folder is a temporary one, removed
when the dataset is (the ids are an intermediate of one run; the check results keep the
findings): a loaded Arrow dataset reads its files only while its IdFilesDataset lives, as the
catalog keeps it for the run.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from kedro.io import AbstractDataset
from kedro.io.core import DatasetError


@dataclass(frozen=True)
class IdsNotRead:
    """Saved instead of ids by a node that did not read them; `reason` says why."""

    reason: str


class IdFilesDataset(AbstractDataset[pd.DataFrame | dict | IdsNotRead, ds.Dataset | IdsNotRead]):
    """Text columns `columns`, appended one Parquet file per saved frame; see the module docstring."""

    _EPHEMERAL = True  # of this run only: Kedro does not offer to resume a later run from it

    def __init__(self, columns: list[str], metadata: dict[str, Any] | None = None) -> None:
        self.schema = pa.schema([(name, pa.string()) for name in columns])
        self.metadata = metadata
        self._folder: Path | None = None  # made at the first save: a catalog built for `kedro viz`
        self._files: list[Path] | None = None  # or a notebook, never saved to, leaves nothing behind
        self._not_read: IdsNotRead | None = None

    def _new_file(self) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="dq-ids-"))
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder / f"part-{len(self._files):06d}.parquet"

    def _save(self, data: pd.DataFrame | dict | IdsNotRead) -> None:
        if isinstance(data, dict) and set(data) != {"begin"}:
            raise DatasetError(f"IdFilesDataset saves frames, {{'begin': n}} or IdsNotRead, not keys {sorted(data)}")
        self._not_read = data if isinstance(data, IdsNotRead) else None
        if isinstance(data, dict | IdsNotRead):  # what was saved before is void
            for path in self._files or []:
                path.unlink()
            self._files = []
            return
        missing = [name for name in self.schema.names if name not in data.columns]
        if missing:
            raise DatasetError(f"IdFilesDataset: the frame has no column(s) {', '.join(missing)}")
        self._files = self._files or []
        if not len(data):
            return
        table = pa.table({name: pa.array(data[name].astype("str"), type=pa.string()) for name in self.schema.names})
        path = self._new_file()
        pq.write_table(table, path, compression="zstd")
        self._files.append(path)

    def _load(self) -> ds.Dataset | IdsNotRead:
        if self._not_read is not None:
            return self._not_read
        if self._files is None:
            raise DatasetError("IdFilesDataset: nothing was saved in this run yet")
        return ds.dataset([str(path) for path in self._files], format="parquet", schema=self.schema)

    def _describe(self) -> dict[str, Any]:
        return {"columns": self.schema.names, "folder": str(self._folder) if self._folder else None}
