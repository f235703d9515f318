"""Every notebook in notebooks/ runs top to bottom the way `make lab` runs it, against a test
warehouse loaded by the real pipeline; any error fails.

As Jupyter runs it: the kernel is the project's Kedro kernel (`kedro jupyter` makes it: Python
with `--ext kedro.ipython`), started in the notebook's folder, in a checkout of the project whose
conf/ is the project's own (the raw zone at the relative `data/01_raw`) with conf/local pointing
at the warehouse. What it shows is checked against what the zone and the warehouse hold.
Committed notebooks carry no outputs.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DAY = "2024-02-12"
KERNEL = "kedro_retail_pipeline"   # kedro jupyter's name for this project's kernel


@pytest.fixture(scope="module")
def notebook_stack(tmp_path_factory, pg_server, warehouse_template, loader_password, retailer_apis,
                   retailer_databases):
    """A warehouse and raw zone of the notebook tests' own (other tests load later days into the
    shared production warehouse), holding three retailers' sales for DAY's window, extracted and
    loaded by `kedro run`."""
    from retailers.generator import seed
    from tests.fixtures.retailers import truncate_retailers
    from tests.fixtures.warehouse import copy_warehouse
    from tests.production.conftest import make_prod_conf

    warehouse = copy_warehouse(pg_server, warehouse_template, loader_password, prefix="nb_wh")
    try:
        conf = make_prod_conf(tmp_path_factory.mktemp("nb-conf"), warehouse, retailer_apis, retailer_databases)
        truncate_retailers(retailer_databases)
        seed(retailer_databases, "2024-02-09", DAY, 60, 0.05, 0.0, 11, "2030-01-01")
        conf.run("--pipelines", "ingestion,transformation", "--params", f"run_date={DAY}")
        assert warehouse.query("SELECT count(*) FROM fact_sales WHERE date_id = 20240212")[0][0] > 0
        yield conf, warehouse
    finally:
        pg_server.drop_database(warehouse.dbname)


def test_there_is_a_notebook():
    assert NOTEBOOKS, "notebooks/ has no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebooks_carry_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [c for c in code if c.get("outputs") or c.get("execution_count") is not None], \
        f"{path.name} has outputs: clear them before committing"
    assert notebook.metadata["kernelspec"]["name"] == KERNEL


def project_copy(root: Path, prod_conf) -> Path:
    """The project's code, SQL and notebooks, the test's conf as conf/ but with the project's
    own (relative) raw-zone path, and the test's raw zone under data/."""
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    root.mkdir()
    shutil.copy(ROOT / "pyproject.toml", root)
    for folder in ("src", "sql", "notebooks"):
        shutil.copytree(ROOT / folder, root / folder, ignore=skip)
    shutil.copytree(prod_conf.conf, root / "conf", ignore=skip)
    (root / "conf" / "local" / "globals.yml").unlink(missing_ok=True)
    shutil.copytree(prod_conf.data / "01_raw", root / "data" / "01_raw")
    return root


def kedro_kernel(jupyter_path: Path) -> None:
    """The kernel spec `kedro jupyter lab` installs, in a folder of the test's own."""
    spec = jupyter_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--ext", "kedro.ipython"],
        "display_name": "Kedro (retail_pipeline)", "language": "python"}))


def quarantined_in(zone: Path, first: date, last: date) -> int:
    """Records in the ingestion quarantine files of first..last."""
    total = 0
    for path in zone.glob("quarantine/*/year=*/month=*/day=*/sales_data.json"):
        y, m, d = (int(part.split("=")[1]) for part in path.parts[-4:-1])
        if first <= date(y, m, d) <= last:
            total += sum(1 for line in path.read_text().splitlines() if line.strip())
    return total


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_as_jupyter_runs_it(path, notebook_stack, bi_reader_password, monkeypatch, tmp_path):
    prod_conf, loaded_warehouse = notebook_stack
    # the notebook reads as bi_reader (read-only), like an analyst
    prod_conf.set_reader(loaded_warehouse.reader_url(bi_reader_password))
    project = project_copy(tmp_path / "project", prod_conf)
    kedro_kernel(tmp_path / "jupyter")
    for name in ("KEDRO_CONF_SOURCE", "KEDRO_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)          # nowhere near the project: the kernel's folder decides
    path = project / "notebooks" / path.name
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()   # raises CellExecutionError on the first failing cell

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "the notebook should draw its charts"
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.get("name") == "stdout")
    found = re.search(r"window (\S+)\.\.(\S+): (\d+) records quarantined at ingestion, (\d+) at load; "
                      r"(\d+) distinct reasons in (\d+) kinds", text)
    assert found, text
    first, last = date.fromisoformat(found[1]), date.fromisoformat(found[2])
    assert last == date.fromisoformat(DAY) and first == last - timedelta(days=3)
    expected = quarantined_in(project / "data" / "01_raw", first, last)
    assert expected > 0 and int(found[3]) == expected, (found[0], expected)
    at_load = loaded_warehouse.scalar(
        "SELECT count(*) FROM warehouse_quarantine WHERE sale_date BETWEEN %s AND %s", (first, last))
    assert int(found[4]) == at_load
    distinct, kinds = int(found[5]), int(found[6])
    assert kinds < distinct and kinds <= 12, "reasons should be grouped by kind, not by value"
