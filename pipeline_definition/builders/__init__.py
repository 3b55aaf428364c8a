"""The platform's SageMaker pipelines, built with the SageMaker Python SDK (v3) from the steps in `pipeline_code/`.

- `base`: what every pipeline shares (offline session, images, step code, processing steps, job I/O);
- `parameters`: each pipeline's execution parameters, one frozen dataclass per pipeline, built from the config;
- `training`: the training pipeline, with its separate steps in `tuning`, `native_checks` and `registration`;
- `monitoring` and `batch_inference`: the operations pipelines;
- `ingestion`: the PostgreSQL ingestion pipeline.

Imports the SDK: only `generate` imports this package, when it builds, never the CDK app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline_definition.builders.base import BuildContext, PipelineBuilder
from pipeline_definition.builders.batch_inference import BatchInferencePipelineBuilder
from pipeline_definition.builders.ingestion import IngestionParameters, IngestionPipelineBuilder
from pipeline_definition.builders.monitoring import MonitoringPipelineBuilder
from pipeline_definition.builders.parameters import (
    BatchInferenceParameters,
    MonitoringParameters,
    TrainingParameters,
)
from pipeline_definition.builders.training import TrainingPipelineBuilder

__all__ = ["BuildContext", "PipelineBuilder", "builder_for"]

# Each pipeline of `contract.PIPELINES`: its builder, with its parameters built from the context's config.
_BUILDERS: dict[str, Callable[[BuildContext], PipelineBuilder[Any]]] = {
    "training": lambda ctx: TrainingPipelineBuilder(ctx, TrainingParameters.from_config(ctx.environment)),
    "monitoring": lambda ctx: MonitoringPipelineBuilder(
        ctx, MonitoringParameters.from_config(ctx.names, ctx.environment)
    ),
    "batch-inference": lambda ctx: BatchInferencePipelineBuilder(
        ctx, BatchInferenceParameters.from_config(ctx.environment)
    ),
    "ingestion": lambda ctx: IngestionPipelineBuilder(ctx, IngestionParameters.from_config(ctx.environment)),
}


def builder_for(pipeline: str, context: BuildContext) -> PipelineBuilder[Any]:
    """The builder of `pipeline` (one of `contract.PIPELINES`) for the context's environment."""
    if pipeline not in _BUILDERS:
        raise ValueError(f"no builder for the pipeline {pipeline!r}; known: {', '.join(_BUILDERS)}")
    return _BUILDERS[pipeline](context)
