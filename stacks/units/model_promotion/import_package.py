"""1b. Import (an environment whose `promotion.source` is another): the source's package becomes this one's.

ImportModel → ImportTestSplit → ImportRawTestSplit → ImportEvaluation → ImportBaseline copy the package's files
from the source's
artifacts bucket (another account, read through its bucket policy and key grant) to
`pipeline-runs/imported/<source env>-v<version>/` here, in a training run's layout. CheckDigest hashes the source
object and the copy: they must be the same bytes, and the same as the digest the source recorded when it
validated the package (`artifact_sha256`, written by its own import). RegisterImported records the package in
this environment's group (PendingManualApproval) with the copies and the lineage: from here on `$package` is
that record. The run approves it once everything passed (`publish`), rejects it otherwise (`rejection`); another
environment promotes it only once Approved. A failure here rejects before anything is deployed.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.units.model_promotion.steps import FAILURE_REASON, Failures, Flow, FlowFragment

EVALUATION_SUFFIX = "EvaluateModel/evaluation/evaluation.json"  # pipeline_code.monitoring_inputs: the run layout
TEST_SPLIT_SUFFIX = "Preprocess/test/test.csv"  # processed: monitoring's reference
RAW_TEST_SPLIT_SUFFIX = "Preprocess/raw_test/test.csv"  # the same rows as raw records: the gate's and smoke test's
SOURCE_METADATA = "$source.metadata"


def split_of(evaluation_uri: str, suffix: str) -> str:
    """JSONata: a test split written by the same training run as the evaluation report `evaluation_uri`."""
    return f"$replace({evaluation_uri}, '{EVALUATION_SUFFIX}', '{suffix}')"


def metadata_value(key: str, fallback: str) -> str:
    """JSONata: the source package's metadata `key`, or `fallback` (a JSONata expression)."""
    return f"($exists({SOURCE_METADATA}.{key}) ? {SOURCE_METADATA}.{key} : {fallback})"


def lineage(source_environment: str) -> str:
    """JSONata, after CheckDigest: the record's metadata. The training run and the source's validation are carried
    over from the source's own record (prod: from staging's), so a prod package names the dev run that trained it,
    the staging run that validated it and (publish) the person who approved it."""
    training_run = metadata_value("training_run", metadata_value("pipeline_execution_arn", "'unknown'"))
    validation = metadata_value("validated_by", "'none'")
    return (
        f"{{% {{'source_environment': '{source_environment}', 'source_package': $package.arn, "
        f"'artifact_sha256': $states.result.Payload.sha256, 'training_run': {training_run}, "
        f"'source_validation': {validation}}} %}}"
    )


class ImportPackage(FlowFragment):
    """ImportModel … RegisterImported."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow, checks: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        assert flow.source is not None
        source, bucket = flow.source, flow.where.artifacts_bucket.bucket_name
        folder = f"'{flow.names.imported_models_prefix}/{source.environment}-v' & $string($package.version)"
        granted = f"{flow.names.imported_models_prefix}/*"
        files = {
            "ImportModel": ("$package.modelDataUrl", "model.tar.gz"),
            "ImportTestSplit": (split_of("$package.evaluationUri", TEST_SPLIT_SUFFIX), TEST_SPLIT_SUFFIX),
            "ImportRawTestSplit": (
                split_of("$package.evaluationUri", RAW_TEST_SPLIT_SUFFIX),
                RAW_TEST_SPLIT_SUFFIX,
            ),
            "ImportEvaluation": ("$package.evaluationUri", EVALUATION_SUFFIX),
            "ImportBaseline": ("$package.baselineUri", "baseline.json"),
        }
        copies = [
            flow.copy(self, construct_id, uri, f"{{% {folder} & '/{name}' %}}", granted_keys=granted)
            for construct_id, (uri, name) in files.items()
        ]
        local = {name: f"'s3://{bucket}/' & {folder} & '/{name}'" for _, name in files.values()}
        recorded_digest = metadata_value("artifact_sha256", "''")
        digest = tasks.LambdaInvoke.jsonata(
            self,
            "CheckDigest",
            lambda_function=checks,
            payload=sfn.TaskInput.from_object(
                {
                    "check": "digest",
                    "uris": f"{{% [$package.modelDataUrl, {local['model.tar.gz']}] %}}",
                    "expected": f"{{% {recorded_digest} %}}",
                }
            ),
            task_timeout=sfn.Timeout.duration(cdk.Duration.minutes(5)),
            assign={"lineage": lineage(source.environment)},
        )
        register = flow.call(
            self,
            "RegisterImported",
            "sagemaker",
            "createModelPackage",
            [flow.group_arn, flow.package_arns],
            parameters={
                "ModelPackageGroupName": flow.names.model_package_group,
                "ModelPackageDescription": f"{{% 'Imported from {source.environment}: ' & $package.arn %}}",
                "InferenceSpecification": {
                    "Containers": [
                        {
                            "Image": "{% $package.image %}",
                            "ModelDataUrl": f"{{% {local['model.tar.gz']} %}}",
                            "Environment": "{% $package.environment %}",
                        }
                    ],
                    "SupportedContentTypes": ["text/csv", "application/json"],
                    "SupportedResponseMIMETypes": ["application/json", "text/csv"],
                },
                "ModelMetrics": {
                    "ModelQuality": {
                        "Statistics": {
                            "ContentType": "application/json",
                            "S3Uri": f"{{% {local[EVALUATION_SUFFIX]} %}}",
                        }
                    }
                },
                "DriftCheckBaselines": {
                    "ModelDataQuality": {
                        "Statistics": {"ContentType": "application/json", "S3Uri": f"{{% {local['baseline.json']} %}}"}
                    }
                },
                "ModelApprovalStatus": "PendingManualApproval",
                "CustomerMetadataProperties": "{% $lineage %}",
            },
            assign={
                "package": (
                    "{% $merge([$package, {'arn': $states.result.ModelPackageArn, "
                    f"'modelDataUrl': {local['model.tar.gz']}, 'evaluationUri': {local[EVALUATION_SUFFIX]}, "
                    f"'baselineUri': {local['baseline.json']}}}]) %}}"
                ),
                "recorded": True,
            },
        )
        self._steps: list[sfn.TaskStateBase] = [*copies, digest, register]
        for step, following in zip(self._steps, self._steps[1:], strict=False):
            step.next(following)
        self._set_bounds(copies[0], register)

    def hand_failures(self, failures: Failures) -> None:
        for step in self._steps:
            step.add_catch(failures.rejection, errors=["States.ALL"], assign={"reason": FAILURE_REASON})
