"""A SageMaker managed MLflow tracking server: "track and version everything" the pipeline runs."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.units.compliance import acknowledge_bucket_grant, acknowledge_grant_policy

MLFLOW_PREFIX = "mlflow"


class ExperimentTracking(Construct):
    """The tracking server of one environment, its artifacts under `s3://<artifacts>/mlflow/`.

    Provides `tracking_server_arn`; the training pipeline's steps log parameters, metrics and models to it.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, server_name: str, size: str, artifacts_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        role = iam.Role(
            self,
            "ServerRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"The MLflow tracking server {server_name} stores run artifacts in the artifacts zone",
        )
        artifacts_bucket.grant_read_write(role, f"{MLFLOW_PREFIX}/*")
        acknowledge_bucket_grant(
            role, artifacts_bucket, f"{MLFLOW_PREFIX}/*", "MLflow stores run artifacts", write=True
        )
        acknowledge_grant_policy(role)
        self.server = sagemaker.CfnMlflowTrackingServer(
            self,
            "Server",
            tracking_server_name=server_name,
            artifact_store_uri=artifacts_bucket.s3_url_for_object(MLFLOW_PREFIX),
            role_arn=role.role_arn,
            tracking_server_size=size,
            automatic_model_registration=False,  # the pipeline registers models itself, with metrics and lineage
        )
        self.server.node.add_dependency(role)
        self.tracking_server_arn = self.server.attr_tracking_server_arn
