"""Running the project's pipelines on an in-memory DataCatalog (Kedro's spaceflights style).

Parameters come from the project's own configuration (conf/base, read with the project's config
loader and resolvers), looked up the way Kedro does it (`params:a.b` is the key `b` of `a`), so
a pipeline test exercises the same wiring `kedro run` does; datasets are MemoryDatasets holding
the frames a test gives, except the datasets a generator node appends to, which are the
catalog's (the quality pipeline's id files, in a temp folder). No server.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from retail_pipeline.extraction.frames import page_frame, to_frame

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUN_DATE = "2024-01-15"
INGESTED_AT = "2024-01-16T02:00:00Z"  # the night after the run date, as a scheduled run


@cache
def conf_parameters(run_date: str = RUN_DATE, ingested_at: str = INGESTED_AT) -> dict[str, Any]:
    """The project's parameters (conf/base) as a Kedro session resolves them for
    `kedro run --params run_date=..,ingested_at=..,run_id=run-test` (lookback: the default)."""
    from retail_pipeline import settings

    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(PROJECT_ROOT / "conf"), env="base",
        runtime_params={"run_date": run_date, "ingested_at": ingested_at, "run_id": "run-test"},
        **settings.CONFIG_LOADER_ARGS)
    return loader["parameters"]


@cache
def conf_catalog() -> dict[str, Any]:
    """The project's catalog entries (conf/base), as the config loader reads them."""
    from retail_pipeline import settings

    loader = settings.CONFIG_LOADER_CLASS(conf_source=str(PROJECT_ROOT / "conf"), env="base",
                                          **settings.CONFIG_LOADER_ARGS)
    return {name: entry for name, entry in loader["catalog"].items() if not name.startswith("_")}


def appended_datasets(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline's datasets that the catalog declares as IdFilesDataset (matched by its
    factory patterns), as the catalog makes them."""
    from parse import parse

    from retail_pipeline.datasets.id_files import IdFilesDataset

    datasets = {}
    for name in pipeline.datasets():
        for pattern, entry in conf_catalog().items():
            if entry.get("type", "").endswith(".IdFilesDataset") and (pattern == name or parse(pattern, name)):
                datasets[name] = IdFilesDataset(columns=entry["columns"])
    return datasets


@cache
def project_pipeline(name: str) -> Pipeline:
    """The project's pipeline `name` (ingestion, transformation, quality), built once: building
    reads the retailer registry from conf/."""
    from retail_pipeline.pipeline_registry import register_pipelines

    return register_pipelines()[name]


def parameter(params: dict[str, Any], name: str) -> Any:
    """`params:a.b` -> params["a"]["b"], as Kedro names nested parameters."""
    value: Any = params
    for key in name.removeprefix("params:").split("."):
        if not isinstance(value, dict) or key not in value:
            raise KeyError(f"the pipeline reads {name}, which conf/base/parameters*.yml does not define")
        value = value[key]
    return value


def run(pipeline: Pipeline, data: dict[str, Any], run_date: str = RUN_DATE,
        ingested_at: str = INGESTED_AT) -> dict[str, Any]:
    """Run `pipeline` with SequentialRunner; returns its free outputs (name -> value).

    `data` fills exactly the non-parameter inputs; the `params:` inputs come from the
    configuration for the run date and ingestion time.
    """
    conf = conf_parameters(run_date, ingested_at)
    inputs = {name for name in pipeline.inputs() if not name.startswith("params:")}
    assert set(data) == inputs, (f"inputs the test does not give: {sorted(inputs - set(data))}; "
                                 f"data the pipeline does not read: {sorted(set(data) - inputs)}")
    datasets = {name: MemoryDataset(value) for name, value in data.items()}
    datasets |= {name: MemoryDataset(parameter(conf, name)) for name in pipeline.inputs() if name.startswith("params:")}
    datasets |= appended_datasets(pipeline)
    outputs = SequentialRunner().run(pipeline, DataCatalog(datasets))
    return {name: dataset.load() for name, dataset in outputs.items()}


def api_frame(records: list[dict], code: str, run_date: str = RUN_DATE, window_start: str = "2024-01-12",
              page_size: int = 3, **extraction: Any) -> pd.DataFrame:
    """What RetailerApiDataset returns for `records`: the extraction's own page -> frame code,
    `source_page` and `source_record`, and the statistics in `attrs["extraction"]`."""
    pages = [page_frame(records[i:i + page_size], i // page_size + 1, [])
             for i in range(0, len(records), page_size)]
    frame = to_frame(pages, [])
    frame.attrs["extraction"] = {
        "retailer_code": code, "url": f"http://127.0.0.1:9/{code}", "window_start": window_start,
        "window_end": run_date, "pages": len(pages), "requests": len(pages), "retries": 0,
        "source_total": len(records), "rows": len(records), "attempts": 1,
        "consistency": "verified_reread", "elapsed_s": 0.1, **extraction,
    }
    return frame


def ingest(frames: dict[str, pd.DataFrame], run_date: str = RUN_DATE,
           ingested_at: str = INGESTED_AT) -> dict[str, dict[str, Any]]:
    """The ingestion pipeline's nodes of the given retailers (code -> extracted frame);
    returns {code: {"raw", "quarantine", "manifest"}}, what `<code>.raw_sales` commits."""
    pipeline = project_pipeline("ingestion").only_nodes_with_namespaces(list(frames))
    out = run(pipeline, {f"{code}.api_sales": frame for code, frame in frames.items()}, run_date, ingested_at)
    return {code: out[f"{code}.raw_sales"] for code in frames}
