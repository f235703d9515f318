"""Every notebook in notebooks/ runs top to bottom (nbclient) against a test warehouse loaded
by the real pipeline; any error fails.

The notebook runs as an analyst runs it: in a checkout of the project whose conf/local points
at the warehouse (here a copy of the project with the test conf), `%load_ext kedro.ipython`
finding the project from the notebook's folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DAY = "2024-02-12"


@pytest.fixture(scope="module")
def loaded_warehouse(prod_conf, prod_warehouse, retailer_databases):
    """Three retailers' sales for DAY's window, extracted and loaded by `kedro run`."""
    from retailers.generator import seed
    from tests.fixtures.retailers import truncate_retailers

    truncate_retailers(retailer_databases)
    seed(retailer_databases, "2024-02-09", DAY, 60, 0.05, 0.0, 11, "2030-01-01")
    prod_conf.run("--pipelines", "ingestion,transformation", "--params", f"run_date={DAY}")
    assert prod_warehouse.query("SELECT count(*) FROM fact_sales WHERE date_id = 20240212")[0][0] > 0
    return prod_warehouse


def test_there_is_a_notebook():
    assert NOTEBOOKS, "notebooks/ has no notebook"


def project_copy(root: Path, conf: Path) -> Path:
    """The project's code, SQL and notebooks with `conf` as its conf/ (nothing of the real
    checkout's conf/local is read)."""
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    root.mkdir()
    shutil.copy(ROOT / "pyproject.toml", root)
    for folder in ("src", "sql", "notebooks"):
        shutil.copytree(ROOT / folder, root / folder, ignore=skip)
    shutil.copytree(conf, root / "conf", ignore=skip)
    return root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_error(path, loaded_warehouse, prod_conf, bi_reader_password, monkeypatch,
                                     tmp_path):
    # the notebook reads as bi_reader (read-only), like an analyst
    prod_conf.set_reader(loaded_warehouse.reader_url(bi_reader_password))
    project = project_copy(tmp_path / "project", prod_conf.conf)
    path = project / "notebooks" / path.name
    for name in ("KEDRO_CONF_SOURCE", "KEDRO_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()   # raises CellExecutionError on the first failing cell

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "the notebook should draw its charts"
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "records quarantined at ingestion" in text
