"""Project pipelines: ingestion, transformation and quality; `__default__` runs all three."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from retail_pipeline.pipelines import ingestion, quality, transformation


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = {
        "ingestion": ingestion.create_pipeline(),
        "transformation": transformation.create_pipeline(),
        "quality": quality.create_pipeline(),
    }
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
