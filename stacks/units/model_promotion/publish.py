"""5. Publish baselines: the endpoint is live; what monitoring checks it against follows it.

[autoscaling: RegisterScalableTarget → RegisterScalingPolicy] → CopyBaseline → CopyModel → [model-monitor
backend: its baselines and the Clarify analysis configs] → RecordCurrentPackage. The copies land under
`monitoring/current/` of the artifacts zone; the SSM parameter, written last, names the live package.
[imported packages: ApproveRecord, this environment's record of the package becomes Approved: validated.]
A failure rolls back (and `rejection` restores `monitoring/current/` once CopyBaseline succeeded).
"""

from __future__ import annotations

import json
from itertools import pairwise

from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_code import schema
from stacks.units.model_promotion.steps import FAILURE_REASON, Failures, Flow, FlowFragment
from stacks.units.native_monitoring import (
    BASELINE_PREFIX,
    PACKAGE_BASELINES,
    bias_analysis_config,
    explainability_analysis_config,
)


class PublishBaselines(FlowFragment):
    """[Register…] CopyBaseline … RecordCurrentPackage."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow) -> None:
        super().__init__(scope, construct_id)
        current = flow.names.current_model_prefix
        record = flow.call(
            self,
            "RecordCurrentPackage",
            "ssm",
            "putParameter",
            [flow.parameter_arn],
            parameters={
                "Name": flow.where.current_model_parameter,
                "Value": "{% $package.arn %}",
                "Type": "String",
                "Overwrite": True,
            },
        )
        self._copies = [
            flow.copy(self, "CopyBaseline", "$package.baselineUri", f"{current}/baseline.json", published=True),
            flow.copy(self, "CopyModel", "$package.modelDataUrl", f"{current}/model.tar.gz"),
            *(self._model_monitor_baselines(flow) if flow.model_monitor else []),
            record,
            *([self._approve_record(flow)] if flow.imports else []),
        ]
        for step, following in pairwise(self._copies):
            step.next(following)
        self._scaling: tuple[tasks.CallAwsService, ...] = ()
        if flow.autoscaling:
            register, policy = flow.scaling(self, "Register")
            policy.next(self._copies[0])
            self._scaling = (register, policy)
        self._set_bounds(self._scaling[0] if self._scaling else self._copies[0], self._copies[-1])

    def _approve_record(self, flow: Flow) -> tasks.CallAwsService:
        """Imported packages: this environment's record becomes Approved, with the gate's figures, the run that
        validated it and (manual approval) the approver. Last, so that only a package that passed everything is
        Approved: an environment promoting from this one starts on that state change."""
        metadata = "{'validated_by': $states.context.Execution.Id"
        metadata += ", 'approver': $approver}" if flow.promotion.manual_approval else "}"
        return flow.call(
            self,
            "ApproveRecord",
            "sagemaker",
            "updateModelPackage",
            [flow.package_arns],
            parameters={
                "ModelPackageArn": "{% $package.arn %}",
                "ModelApprovalStatus": "Approved",
                "ApprovalDescription": (
                    f"{{% $substring('Validated in {flow.names.environment}: ' & $gate.summary, 0, 1000) %}}"
                ),
                "CustomerMetadataProperties": f"{{% $merge([$gate.metadata, {metadata}]) %}}",
            },
        )

    def _model_monitor_baselines(self, flow: Flow) -> list[tasks.CallAwsService]:
        """Copies of the package's Model Monitor baselines and the Clarify analysis configs, where the monitoring
        schedules (`native_monitoring`) read them."""
        copies = [
            flow.copy(self, construct_id, f"$package.{key}", f"{BASELINE_PREFIX}/{file}")
            for key, (construct_id, file) in PACKAGE_BASELINES.items()
        ]
        bucket = flow.where.artifacts_bucket.bucket_name
        shap_baseline = f"s3://{bucket}/{BASELINE_PREFIX}/{PACKAGE_BASELINES['model_monitor_shap_baseline'][1]}"
        dataset = schema.load(flow.names.dataset)
        configs = {
            "WriteBiasAnalysisConfig": ("model-bias", bias_analysis_config(dataset)),
            "WriteExplainabilityAnalysisConfig": (
                "model-explainability",
                explainability_analysis_config(flow.names.endpoint, shap_baseline, dataset),
            ),
        }
        writes = [
            flow.call(
                self,
                construct_id,
                "s3",
                "putObject",
                [flow.where.artifacts_bucket.arn_for_objects(f"{BASELINE_PREFIX}/{kind}/analysis_config.json")],
                iam_action="s3:PutObject",
                parameters={
                    "Bucket": bucket,
                    "Key": f"{BASELINE_PREFIX}/{kind}/analysis_config.json",
                    "Body": json.dumps(config, sort_keys=True),
                    "ContentType": "application/json",
                    "ServerSideEncryption": "aws:kms",
                    "SSEKMSKeyId": flow.where.key.key_arn,
                },
            )
            for construct_id, (kind, config) in configs.items()
        ]
        return [*copies, *writes]

    def hand_failures(self, failures: Failures) -> None:
        for step in self._copies:
            step.add_catch(failures.rollback, errors=["States.ALL"], assign={"reason": FAILURE_REASON})
        # On the happy path a failure of autoscaling is the reason itself (after a rollback it is an addition).
        reason = "{% 'autoscaling: ' & $states.errorOutput.Error & ': ' & $states.errorOutput.Cause %}"
        for step in self._scaling:
            step.add_catch(failures.rollback, errors=["States.ALL"], assign={"reason": reason})
