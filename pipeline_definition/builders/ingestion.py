"""The ingestion pipeline: one processing step that copies new PostgreSQL rows into the raw zone.

IngestPostgres runs `pipeline_code.ingest` (its docstring has the protocol: lease, batches, manifests, watermark).
Everything about the source (server, table or query, columns, watermark column) is read at run time from the SSM
parameter CDK writes from the `ingestion` config section, so this definition is the same whatever the source, and
is built for every environment; CDK deploys it, with its schedule, only where `ingestion` is set. The PostgreSQL
driver (psycopg 3, not in the SageMaker Distribution image) comes from an input CDK fills with the pinned wheels.

Never cached: each run reads what is new since the last one. A SageMaker processing job is the runtime, like every
other step here: the same image, code deployment, roles, logs and local runner; a Glue Python shell job would bring
another runtime (its own Python, library installation from PyPI at start) for one step.
"""

from __future__ import annotations

from dataclasses import dataclass

from sagemaker.core.workflow import ParameterInteger, ParameterString
from sagemaker.mlops.workflow import Pipeline

from config import EnvironmentConfig
from pipeline_definition.builders.base import PROCESSING_IN, PROCESSING_OUT, PipelineBuilder
from pipeline_definition.contract import (
    DEPENDENCIES_PREFIX,
    PLACEHOLDERS,
    dependencies_hash,
)

DEPENDENCIES_DIR = f"{PROCESSING_IN}/dependencies"
# The lease outlives the job: SageMaker stops a job at MaxRuntimeInSeconds, so once the lease expires no stopped
# run can still be writing (pipeline_code.ingest_state).
LEASE_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class IngestionParameters:
    processing_type: ParameterString
    processing_count: ParameterInteger

    @classmethod
    def from_config(cls, env: EnvironmentConfig) -> IngestionParameters:
        return cls(
            processing_type=ParameterString("ProcessingInstanceType", default_value=env.processing.instance_type),
            # One instance: a second would find the lease taken and extract nothing.
            processing_count=ParameterInteger("ProcessingInstanceCount", default_value=1),
        )


class IngestionPipelineBuilder(PipelineBuilder[IngestionParameters]):
    """PostgreSQL rows past the watermark -> raw-zone CSV files with manifests (under the training prefix)."""

    def build(self) -> Pipeline:
        env = self.ctx.environment
        names = self.ctx.names
        dependencies = f"s3://{PLACEHOLDERS.artifacts_bucket}/{DEPENDENCIES_PREFIX}/{dependencies_hash()}/"
        ingest = self.processing_step(
            "IngestPostgres",
            "ingest",
            inputs=[self.input("dependencies", dependencies, DEPENDENCIES_DIR)],
            outputs=["report"],
            arguments=[
                "--settings-parameter",
                names.ingestion_settings_parameter,
                "--raw-bucket",
                PLACEHOLDERS.raw_bucket,
                "--raw-prefix",
                names.raw_training_prefix,
                "--state-table",
                names.ingestion_state_table,
                "--lease-seconds",
                str(env.processing.max_runtime_seconds + LEASE_MARGIN_SECONDS),
                "--region",
                env.region,
                "--report-dir",
                f"{PROCESSING_OUT}/report",
            ],
            cache=False,
            python_path=(DEPENDENCIES_DIR,),
        )
        return Pipeline(
            name=names.ingestion_pipeline,
            parameters=self.parameters,
            steps=[ingest],
            sagemaker_session=self.session,
            pipeline_experiment_config=None,
        )
