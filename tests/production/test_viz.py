"""kedro-viz: `kedro viz build` makes a static site with the three pipelines, their nodes and
datasets, the datasets grouped in the layers raw -> intermediate -> primary -> reporting."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixtures.kedro_project import PLACEHOLDER_CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["raw", "intermediate", "primary", "reporting"]


@pytest.fixture(scope="module")
def viz_build(tmp_path_factory) -> Path:
    """`kedro viz build` in a copy of the project (it writes build/ into the project root),
    with throwaway credentials: building the site instantiates the catalog, connects nowhere."""
    project = tmp_path_factory.mktemp("viz-project")
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    (project / "logs").mkdir()  # conf/logging.yml writes logs/kedro.log (a checkout has the folder)
    (project / "conf" / "local" / "credentials.yml").write_text(yaml.safe_dump(PLACEHOLDER_CREDENTIALS))
    kedro = Path(sys.executable).parent / "kedro"
    result = subprocess.run([str(kedro), "viz", "build"], cwd=project, capture_output=True, text=True,
                            timeout=600, env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "200"})
    output = result.stdout + result.stderr
    # kedro viz build exits 0 even when it fails: judge by its message and its files
    assert result.returncode == 0 and "Success!" in output, output[-4000:]
    assert "Logging error" not in output, output[-4000:]
    return project / "build"


def _api(build: Path, *parts: str) -> dict:
    return json.loads((build / "api" / Path(*parts)).read_text())


def test_static_site_is_built(viz_build):
    assert (viz_build / "index.html").is_file()
    assert (viz_build / "api" / "main").is_file()


def test_site_has_the_three_pipelines_with_their_nodes_and_datasets(viz_build):
    main = _api(viz_build, "main")
    assert {p["id"] for p in main["pipelines"]} >= {"ingestion", "transformation", "quality", "__default__"}
    expected = {
        "ingestion": ({"ingest_sales"}, {"retailer_1.api_sales", "retailer_2.raw_sales"}),
        "transformation": ({"stage_sales", "build_star_schema"},
                           {"retailer_1.raw_sales", "retailer_1.staged_sales", "retailer_1.warehouse_star_schema"}),
        "quality": ({"dq_reread_source", "dq_check_volume", "dq_assemble_results", "dq_render_report", "dq_gate"},
                    {"retailer_3.ingestion_manifest", "dq_manifest_retailer_3", "dq_volume_query",
                     "dq_check_results", "dq_report"}),
    }
    for pipeline, (nodes, datasets) in expected.items():
        data = _api(viz_build, "pipelines", pipeline)
        tasks = {n["name"] for n in data["nodes"] if n["type"] == "task"}
        data_nodes = {n["name"] for n in data["nodes"] if n["type"] == "data"}
        assert nodes <= tasks, f"{pipeline}: missing nodes {sorted(nodes - tasks)}"
        assert datasets <= data_nodes, f"{pipeline}: missing datasets {sorted(datasets - data_nodes)}"
        assert data["edges"], pipeline


def test_datasets_are_grouped_in_layers(viz_build):
    main = _api(viz_build, "main")
    assert main["layers"] == LAYERS
    layer_of = {n["name"]: n.get("layer") for n in main["nodes"] if n["type"] == "data"}
    assert layer_of["retailer_1.raw_sales"] == "raw"
    assert layer_of["retailer_2.quarantined_sales"] == "raw"
    assert layer_of["retailer_1.staged_sales"] == "intermediate"
    assert layer_of["retailer_3.warehouse_quarantine_rows"] == "intermediate"
    assert layer_of["dq_landed_ids_retailer_2"] == "intermediate"
    assert layer_of["retailer_2.warehouse_star_schema"] == "primary"
    assert layer_of["dq_report"] == "reporting"
