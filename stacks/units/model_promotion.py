"""Promotion of an approved model package to the environment's endpoint (Step Functions, JSONata).

Approved package (EventBridge) → describe it → [prod: wait for a person, task token] → create the model and an
endpoint config → create or update `<prefix>-endpoint` → wait until InService (bounded) → smoke-test it with real
rows → [instance mode: register target-tracking autoscaling] → copy its baseline and model to
`monitoring/current/` → [model-monitor backend: copy its Model Monitor baselines and write the Clarify analysis
configs under `monitoring/current/model-monitor/`] → record the package ARN in SSM. Any failure after the
endpoint changed rolls it back (the previous endpoint config, or deletes a first endpoint); every failure marks the
package Rejected with the reason. With the model-monitor backend, a package without Model Monitor baselines is
rejected before anything is deployed.
The endpoint and its configs exist only at run time: nothing here looks a model up at synth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from config import InferenceSettings, PromotionSettings
from stacks.units.compliance import acknowledge, acknowledge_grant_policy, nag_finding
from stacks.units.model_registry import MODEL_ARTIFACTS_PREFIX
from stacks.units.native_monitoring import (
    BASELINE_PREFIX,
    PACKAGE_BASELINES,
    bias_analysis_config,
    explainability_analysis_config,
)
from stacks.units.operations_names import OperationsNames
from stacks.units.sagemaker_grants import grant_container_logs, grant_metrics

SMOKE_TEST_CODE = Path(__file__).resolve().parents[2] / "lambdas" / "smoke_test"
VARIANT = "AllTraffic"
POLL_SECONDS = 30
APPROVAL_CLAIM_DAYS = 7  # duplicate events of one state change arrive within minutes; the claim expires later
# Instance families whose storage is local NVMe: SageMaker refuses a KmsKeyId for them (already encrypted).
_LOCAL_STORAGE_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p4d", "p5", "inf2", "trn1")


def _has_local_storage(instance_type: str) -> bool:
    family = instance_type.split(".")[1]
    return family in _LOCAL_STORAGE_FAMILIES or family.endswith("d")


def autoscaling_enabled(inference: InferenceSettings) -> bool:
    """Target tracking for instance endpoints whose capacity may vary; SageMaker cannot scale burstable ones."""
    if inference.mode != "instance" or inference.max_capacity == inference.min_capacity:
        return False
    if inference.instance_type.split(".")[1].startswith("t"):
        raise ValueError(
            f"inference.instance_type {inference.instance_type}: SageMaker does not autoscale burstable (t) instances;"
            " set min_capacity = max_capacity or choose another family"
        )
    return True


@dataclass(frozen=True)
class PromotionTargets:
    """Where a promotion writes: the capture prefix, the monitoring copies and the SSM parameter."""

    artifacts_bucket: s3.IBucket
    key: kms.IKey
    alerts: sns.ITopic
    current_model_parameter: str  # /<project>/<env>/current-model-package


class ModelPromotion(Construct):
    """State machine `<prefix>-promotion`, its endpoint execution role, smoke-test Lambda, log group and rule.

    Expects the model package group `names.model_package_group` (packages registered by the training pipeline,
    artifacts under `pipeline-runs/` of the artifacts zone) and the alert topic (approvals, results).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: OperationsNames,
        inference: InferenceSettings,
        promotion: PromotionSettings,
        where: PromotionTargets,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        model_monitor: bool = False,
    ) -> None:
        """`model_monitor`: the environment monitors with Model Monitor (`monitoring.backend: model-monitor`)."""
        super().__init__(scope, construct_id)
        self._stack = cdk.Stack.of(self)
        self._model_monitor = model_monitor
        self._names = names
        self._inference = inference
        self._promotion = promotion
        self._where = where
        self._instance_mode = inference.mode == "instance"
        self._autoscaling = autoscaling_enabled(inference)
        self.state_machine_name = f"{names.prefix}-promotion"
        self.endpoint_arn = self._arn("endpoint", names.endpoint)
        self.endpoint_role = self._endpoint_role()
        self.smoke_test = self._smoke_test_function(log_retention, removal_policy)
        self.approvals = self._approvals_table(removal_policy)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{self.state_machine_name}",
            encryption_key=where.key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            comment=f"Deploys approved packages of {names.model_package_group} to {names.endpoint}",
            query_language=sfn.QueryLanguage.JSONATA,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._grant_state_machine(self.state_machine.role)
        self.approver_policy = self._approver_policy() if promotion.manual_approval else None

        self.rule = events.Rule(
            self,
            "OnApproved",
            description=f"An approved package of {names.model_package_group} starts {self.state_machine_name}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [names.model_package_group], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[targets.SfnStateMachine(self.state_machine, role=self._start_role())],
        )

    # ------------------------------------------------------------------------------------------------ naming

    def _arn(self, resource: str, name: str) -> str:
        # SageMaker ARNs carry names in lower case; the prefix already is (project name pattern).
        return self._stack.format_arn(service="sagemaker", resource=resource, resource_name=name.lower())

    @property
    def _scaling_resource_id(self) -> str:
        return f"endpoint/{self._names.endpoint}/variant/{VARIANT}"

    # ---------------------------------------------------------------------------------------------- the flow

    def _call(
        self, construct_id: str, service: str, action: str, resources: list[str], **kwargs: Any
    ) -> tasks.CallAwsService:
        return tasks.CallAwsService.jsonata(
            self, construct_id, service=service, action=action, iam_resources=resources, **kwargs
        )

    def _definition(self) -> sfn.IChainable:
        names, where, promotion = self._names, self._where, self._promotion
        package_arn = "$states.context.Execution.Input.detail.ModelPackageArn"
        failure_reason = "{% $states.errorOutput.Error & ': ' & $states.errorOutput.Cause %}"

        # -- the end of every failure: reject the package with the reason, tell the team, fail the execution
        failed = sfn.Fail.jsonata(self, "PromotionFailed", error="PromotionFailed", cause="{% $reason %}")
        notify_failure = tasks.SnsPublish.jsonata(
            self,
            "NotifyFailure",
            topic=where.alerts,
            subject=f"{names.prefix}: model promotion failed",
            message=sfn.TaskInput.from_text(
                f"{{% 'Promotion of ' & {package_arn} & ' to {names.endpoint} failed; the package is Rejected.'"
                " & '\\n\\nReason: ' & $reason %}"
            ),
        )
        notify_failure.add_catch(failed, errors=["States.ALL"]).next(failed)
        reject_package = self._call(
            "RejectPackage",
            "sagemaker",
            "updateModelPackage",
            [self._package_arns()],
            parameters={
                "ModelPackageArn": f"{{% {package_arn} %}}",
                "ModelApprovalStatus": "Rejected",
                "ApprovalDescription": "{% $substring($reason, 0, 1000) %}",
            },
        )
        reject_package.add_catch(notify_failure, errors=["States.ALL"]).next(notify_failure)
        # Before rejecting: monitoring/current/ back to the live package's files, this promotion's model and config
        # deleted where the endpoint does not use them (only configs that were live count for keep_endpoint_configs).
        reject = self._restore_published(then=self._discard_new_model(then=reject_package))

        # -- rollback: back to the previous endpoint config, or delete an endpoint this execution created
        restore_scaling = self._scaling("Restore", then=reject, on_error=reject) if self._autoscaling else reject
        revert = self._call(
            "RevertEndpoint",
            "sagemaker",
            "updateEndpoint",
            [self.endpoint_arn],
            parameters={"EndpointName": names.endpoint, "EndpointConfigName": "{% $previousConfig %}"},
            assign={"revertUntil": f"{{% $millis() + {promotion.in_service_timeout_minutes * 60 * 1000} %}}"},
        )
        revert.add_catch(
            reject,
            errors=["States.ALL"],
            assign={"reason": "{% $reason & ' (rollback failed too: ' & $states.errorOutput.Cause & ')' %}"},
        ).next(self._wait_for_revert(then=restore_scaling, on_error=reject))
        delete = self._call(
            "DeleteNewEndpoint",
            "sagemaker",
            "deleteEndpoint",
            [self.endpoint_arn],
            parameters={"EndpointName": names.endpoint},
            assign={"newConfigInUse": False},
        )
        delete.add_catch(
            reject,
            errors=["States.ALL"],
            assign={
                "reason": "{% $reason & ' (deleting the endpoint failed too: ' & $states.errorOutput.Cause & ')' %}"
            },
        ).next(reject)
        rollback = (
            sfn.Choice.jsonata(self, "Rollback")
            .when(sfn.Condition.jsonata("{% $firstDeploy %}"), delete)
            # A failed update is rolled back by SageMaker itself: the endpoint is InService on the old config.
            .when(
                sfn.Condition.jsonata("{% $endpointStatus = 'InService' and $liveConfig = $previousConfig %}"),
                restore_scaling,
                assign={"newConfigInUse": False},
            )
            .otherwise(revert)
        )

        # -- success: monitoring's copies of the baseline and model, the current package, a message
        record = self._call(
            "RecordCurrentPackage",
            "ssm",
            "putParameter",
            [
                self._stack.format_arn(
                    service="ssm", resource="parameter", resource_name=where.current_model_parameter.lstrip("/")
                )
            ],
            parameters={
                "Name": where.current_model_parameter,
                "Value": "{% $package.arn %}",
                "Type": "String",
                "Overwrite": True,
            },
        )
        notify_success = tasks.SnsPublish.jsonata(
            self,
            "NotifyPromoted",
            topic=where.alerts,
            subject=f"{names.prefix}: model promoted",
            message=sfn.TaskInput.from_text(
                f"{{% $package.arn & ' is live on {names.endpoint} (endpoint config ' & $endpointConfigName & ').' %}}"
            ),
        )
        done = sfn.Succeed.jsonata(self, "Promoted")
        current = names.current_model_prefix
        copies = [
            self._copy("CopyBaseline", "$package.baselineUri", f"{current}/baseline.json", published=True),
            self._copy("CopyModel", "$package.modelDataUrl", f"{current}/model.tar.gz"),
            *(self._model_monitor_baselines() if self._model_monitor else []),
            record,
        ]
        for step in copies:
            step.add_catch(rollback, errors=["States.ALL"], assign={"reason": failure_reason})
        notify_success.add_catch(done, errors=["States.ALL"])  # the promotion itself succeeded
        tidy = self._delete_superseded(then=notify_success)
        for step, following in zip(copies, [*copies[1:], tidy], strict=True):
            step.next(following)
        notify_success.next(done)
        live: sfn.IChainable = (
            self._scaling("Register", then=copies[0], on_error=rollback) if self._autoscaling else copies[0]
        )

        # -- smoke test, then the bounded wait for InService
        smoke = tasks.LambdaInvoke.jsonata(
            self,
            "SmokeTest",
            lambda_function=self.smoke_test,
            payload=sfn.TaskInput.from_object({"evaluation_uri": "{% $package.evaluationUri %}"}),
            task_timeout=sfn.Timeout.duration(cdk.Duration.minutes(2)),
            outputs="{% $states.result.Payload %}",
        )
        smoke.add_catch(rollback, errors=["States.ALL"], assign={"reason": failure_reason}).next(live)
        wait = sfn.Wait.jsonata(self, "WaitForEndpoint", time=sfn.WaitTime.duration(cdk.Duration.seconds(POLL_SECONDS)))
        check = self._call(
            "CheckEndpoint",
            "sagemaker",
            "describeEndpoint",
            [self.endpoint_arn],
            parameters={"EndpointName": names.endpoint},
            assign={
                "endpointStatus": "{% $states.result.EndpointStatus %}",
                "liveConfig": "{% $states.result.EndpointConfigName %}",
                "failureReason": "{% $states.result.FailureReason ? $states.result.FailureReason : '' %}",
            },
        )
        check.add_catch(rollback, errors=["States.ALL"], assign={"reason": failure_reason})
        timeout_minutes = promotion.in_service_timeout_minutes
        state = (
            sfn.Choice.jsonata(self, "EndpointState")
            .when(
                sfn.Condition.jsonata("{% $endpointStatus = 'InService' and $liveConfig = $endpointConfigName %}"),
                smoke,
            )
            .when(
                sfn.Condition.jsonata(
                    "{% $endpointStatus in ['Failed', 'OutOfService', 'UpdateRollbackFailed', 'Deleting']"
                    " or $endpointStatus = 'InService' %}"
                ),
                rollback,
                assign={
                    "reason": "{% 'the endpoint did not take the new config: ' & $endpointStatus & ' '"
                    " & $liveConfig & ' ' & $failureReason %}"
                },
            )
            .when(
                sfn.Condition.jsonata("{% $millis() > $deadline %}"),
                rollback,
                assign={
                    "reason": f"{{% 'not InService within {timeout_minutes} minutes (' & $endpointStatus & ')' %}}"
                },
            )
            .otherwise(wait)
        )
        wait.next(check).next(state)
        deadline = {"deadline": f"{{% $millis() + {timeout_minutes * 60 * 1000} %}}"}

        # -- create or update the endpoint
        create_endpoint = self._call(
            "CreateEndpoint",
            "sagemaker",
            "createEndpoint",
            [self.endpoint_arn, self._arn("endpoint-config", f"{names.prefix}-*")],
            parameters={"EndpointName": names.endpoint, "EndpointConfigName": "{% $endpointConfigName %}"},
            assign={**deadline, "firstDeploy": True, "newConfigInUse": True},
        )
        create_endpoint.add_catch(reject, errors=["States.ALL"], assign={"reason": failure_reason}).next(wait)
        update_endpoint = self._call(
            "UpdateEndpoint",
            "sagemaker",
            "updateEndpoint",
            [self.endpoint_arn, self._arn("endpoint-config", f"{names.prefix}-*")],
            parameters={"EndpointName": names.endpoint, "EndpointConfigName": "{% $endpointConfigName %}"},
            assign={**deadline, "newConfigInUse": True},
        )
        update_endpoint.add_catch(restore_scaling, errors=["States.ALL"], assign={"reason": failure_reason}).next(wait)
        before_update: sfn.IChainable = update_endpoint
        if self._autoscaling:
            # Autoscaling blocks an update that changes the instance type: deregister (which also deletes the
            # policy), update, register again once InService. Nothing registered yet is fine.
            deregister = self._call(
                "DeregisterScaling",
                "applicationautoscaling",
                "deregisterScalableTarget",
                ["*"],
                iam_action="application-autoscaling:DeregisterScalableTarget",
                parameters=self._scalable_target(),
            )
            deregister.add_catch(update_endpoint, errors=["States.ALL"]).next(update_endpoint)
            before_update = deregister
        # Another promotion (or SageMaker itself) is changing the endpoint: wait for it, within the same bound as
        # the wait for InService, instead of rejecting a good package for its timing.
        busy = sfn.Pass.jsonata(
            self,
            "EndpointBusy",
            assign={
                "reason": f"{{% '{names.endpoint} stayed ' & $endpointStatus & ' for {timeout_minutes} minutes: "
                "approve again later' %}"
            },
        ).next(reject)
        wait_busy = sfn.Wait.jsonata(
            self, "WaitWhileBusy", time=sfn.WaitTime.duration(cdk.Duration.seconds(POLL_SECONDS))
        )
        # DeleteEndpoint is the only operation SageMaker allows on a Failed endpoint (EndpointSummary's
        # EndpointStatus): delete it, wait until it is gone, then create it anew with this package.
        delete_failed = self._call(
            "DeleteFailedEndpoint",
            "sagemaker",
            "deleteEndpoint",
            [self.endpoint_arn],
            parameters={"EndpointName": names.endpoint},
        )
        delete_failed.add_catch(
            reject,
            errors=["States.ALL"],
            assign={
                "reason": f"{{% '{names.endpoint} is Failed (' & $failureReason & ') and deleting it failed: '"
                " & $states.errorOutput.Cause %}"
            },
        ).next(wait_busy)
        changing = "['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting']"
        ready = (
            sfn.Choice.jsonata(self, "EndpointReady")
            .when(sfn.Condition.jsonata("{% $endpointStatus = 'InService' %}"), before_update)
            .when(sfn.Condition.jsonata("{% $endpointStatus = 'Failed' %}"), delete_failed)
            .when(sfn.Condition.jsonata(f"{{% $endpointStatus in {changing} and $millis() < $busyUntil %}}"), wait_busy)
            .otherwise(busy)
        )
        missing = (
            sfn.Choice.jsonata(self, "EndpointMissing")
            .when(
                sfn.Condition.jsonata(
                    "{% $exists($lookupError.Cause) and $contains($lookupError.Cause, 'Could not find endpoint') %}"
                ),
                create_endpoint,
            )
            .otherwise(reject)
        )
        find = self._call(
            "FindEndpoint",
            "sagemaker",
            "describeEndpoint",
            [self.endpoint_arn],
            parameters={"EndpointName": names.endpoint},
            assign={
                "previousConfig": "{% $states.result.EndpointConfigName %}",
                "endpointStatus": "{% $states.result.EndpointStatus %}",
                "failureReason": "{% $states.result.FailureReason ? $states.result.FailureReason : '' %}",
            },
        )
        find.add_catch(
            missing,
            errors=["States.ALL"],
            assign={"lookupError": "{% $states.errorOutput %}", "reason": failure_reason},
        ).next(ready)
        wait_busy.next(find)

        # -- the model and its endpoint config
        create_config = self._call(
            "CreateEndpointConfig",
            "sagemaker",
            "createEndpointConfig",
            [self._arn("endpoint-config", f"{names.prefix}-*")],
            parameters=self._endpoint_config(),
            assign={"busyUntil": f"{{% $millis() + {timeout_minutes * 60 * 1000} %}}"},
        )
        create_config.add_catch(reject, errors=["States.ALL"], assign={"reason": failure_reason}).next(find)
        create_model = self._call(
            "CreateModel",
            "sagemaker",
            "createModel",
            [self._arn("model", f"{names.prefix}-*")],
            parameters={
                "ModelName": "{% $modelName %}",
                "ExecutionRoleArn": self.endpoint_role.role_arn,
                "PrimaryContainer": {"Image": "{% $package.image %}", "ModelDataUrl": "{% $package.modelDataUrl %}"},
                # Serverless endpoints support no network isolation; the built-in XGBoost container needs none.
                "EnableNetworkIsolation": self._instance_mode,
            },
            assign={"modelCreated": True},
        )
        create_model.add_catch(reject, errors=["States.ALL"], assign={"reason": failure_reason}).next(create_config)

        # -- the package, and a person's go-ahead where config asks for one
        deploy: sfn.IChainable = create_model
        if promotion.manual_approval:
            approval = self._approval()
            approval.add_catch(
                reject,
                errors=["States.Timeout"],
                assign={"reason": f"no decision within {promotion.approval_timeout_hours} hours of approval"},
            )
            approval.add_catch(
                reject,
                errors=["States.ALL"],
                assign={
                    "reason": "{% 'refused by a person: ' & $states.errorOutput.Error & ': '"
                    " & $states.errorOutput.Cause %}"
                },
            ).next(create_model)
            deploy = approval
        run_name = f"{{% '{names.prefix}-v' & $string($states.result.ModelPackageVersion) & '-' & $suffix %}}"
        describe = self._call(
            "DescribePackage",
            "sagemaker",
            "describeModelPackage",
            [self._package_arns()],
            parameters={"ModelPackageName": f"{{% {package_arn} %}}"},
            assign={
                "package": {
                    "arn": "{% $states.result.ModelPackageArn %}",
                    "version": "{% $states.result.ModelPackageVersion %}",
                    "image": "{% $states.result.InferenceSpecification.Containers[0].Image %}",
                    "modelDataUrl": "{% $states.result.InferenceSpecification.Containers[0].ModelDataUrl %}",
                    "baselineUri": "{% $states.result.DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri %}",
                    "evaluationUri": "{% $states.result.ModelMetrics.ModelQuality.Statistics.S3Uri %}",
                    **self._package_baseline_fields(),
                },
                # Unique per execution, so a package approved twice never collides with its first model.
                "modelName": run_name,
                "endpointConfigName": run_name,
            },
        )
        describe.add_catch(reject, errors=["States.ALL"], assign={"reason": failure_reason})
        if self._model_monitor:
            keys = ", ".join(PACKAGE_BASELINES)
            no_baselines = sfn.Pass.jsonata(
                self,
                "NoModelMonitorBaselines",
                assign={
                    "reason": f"{{% $package.arn & ' has no Model Monitor baselines ({keys} metadata): monitoring."
                    "backend is model-monitor, so packages must come from a training run with pipeline.native_checks"
                    " true' %}"
                },
            )
            no_baselines.next(reject)
            present = " and ".join(f"$package.{key} != ''" for key in PACKAGE_BASELINES)
            describe.next(
                sfn.Choice.jsonata(self, "HasModelMonitorBaselines")
                .when(sfn.Condition.jsonata(f"{{% {present} %}}"), deploy)
                .otherwise(no_baselines)
            )
        else:
            describe.next(deploy)
        start = sfn.Pass.jsonata(
            self,
            "Start",
            assign={
                "suffix": "{% $substring($uuid(), 0, 8) %}",
                "firstDeploy": False,
                "reason": "not started",
                "published": False,
                "modelCreated": False,
                "newConfigInUse": False,
            },
        )
        return start.next(self._claim_approval(then=describe, on_error=reject))

    def _wait_for_revert(self, *, then: sfn.IChainable, on_error: sfn.IChainable) -> sfn.IChainable:
        """After RevertEndpoint, wait until the endpoint is InService on the previous config: Application Auto
        Scaling refuses to register a target of an endpoint being updated, and the new config may only be deleted
        once the endpoint has left it."""
        wait = sfn.Wait.jsonata(self, "WaitForRevert", time=sfn.WaitTime.duration(cdk.Duration.seconds(POLL_SECONDS)))
        check = self._call(
            "CheckRevert",
            "sagemaker",
            "describeEndpoint",
            [self.endpoint_arn],
            parameters={"EndpointName": self._names.endpoint},
            assign={
                "endpointStatus": "{% $states.result.EndpointStatus %}",
                "liveConfig": "{% $states.result.EndpointConfigName %}",
            },
        )
        check.add_catch(
            on_error,
            errors=["States.ALL"],
            assign={"reason": "{% $reason & ' (rollback not confirmed: ' & $states.errorOutput.Cause & ')' %}"},
        )
        state = (
            sfn.Choice.jsonata(self, "RevertState")
            .when(
                sfn.Condition.jsonata("{% $endpointStatus = 'InService' and $liveConfig = $previousConfig %}"),
                then,
                assign={"newConfigInUse": False},
            )
            .when(
                sfn.Condition.jsonata(
                    "{% $endpointStatus in ['Updating', 'SystemUpdating', 'RollingBack']"
                    " and $millis() < $revertUntil %}"
                ),
                wait,
            )
            .otherwise(
                sfn.Pass.jsonata(
                    self,
                    "RevertUnfinished",
                    assign={
                        "reason": "{% $reason & ' (rollback did not finish: ' & $endpointStatus & ' on ' & $liveConfig"
                        " & ')' %}"
                    },
                ).next(on_error)
            )
        )
        return wait.next(check).next(state)

    def _restore_published(self, *, then: sfn.IChainable) -> sfn.IChainable:
        """A failure after the copies to monitoring/current/: copy the files of the live package back (the one
        in the SSM parameter, which is written last), or remove them after a first deploy (no live package)."""
        names, where = self._names, self._where
        current = names.current_model_prefix
        not_restored = "{% $reason & ' (monitoring/current/ not restored: ' & $states.errorOutput.Cause & ')' %}"
        parameter_arn = self._stack.format_arn(
            service="ssm", resource="parameter", resource_name=where.current_model_parameter.lstrip("/")
        )
        read = self._call(
            "ReadLivePackage",
            "ssm",
            "getParameter",
            [parameter_arn],
            parameters={"Name": where.current_model_parameter},
            assign={"livePackage": "{% $states.result.Parameter.Value %}"},
        )
        keys = [f"{current}/baseline.json", f"{current}/model.tar.gz"]
        if self._model_monitor:
            keys += [f"{BASELINE_PREFIX}/{file}" for _, file in PACKAGE_BASELINES.values()]
        delete = self._call(
            "DeletePublished",
            "s3",
            "deleteObject",
            [where.artifacts_bucket.arn_for_objects(key) for key in keys],
            parameters={"Bucket": where.artifacts_bucket.bucket_name, "Key": "{% $states.input %}"},
        )
        unpublish = sfn.Map.jsonata(
            self, "UnpublishBaselines", items=sfn.ProvideItems.jsonata(f"{{% {json.dumps(keys)} %}}"), max_concurrency=1
        )
        unpublish.item_processor(delete)
        unpublish.add_catch(then, errors=["States.ALL"], assign={"reason": not_restored}).next(then)
        no_live = (
            sfn.Choice.jsonata(self, "NoLivePackage")
            .when(sfn.Condition.jsonata("{% $contains($states.input.Error, 'ParameterNotFound') %}"), unpublish)
            .otherwise(
                sfn.Pass.jsonata(
                    self,
                    "LivePackageUnknown",
                    assign={
                        "reason": "{% $reason & ' (monitoring/current/ not restored: ' & $states.input.Cause & ')' %}"
                    },
                ).next(then)
            )
        )
        read.add_catch(no_live, errors=["States.ALL"])
        describe = self._call(
            "DescribeLivePackage",
            "sagemaker",
            "describeModelPackage",
            [self._package_arns()],
            parameters={"ModelPackageName": "{% $livePackage %}"},
            assign={
                "live": {
                    "baselineUri": "{% $states.result.DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri %}",
                    "modelDataUrl": "{% $states.result.InferenceSpecification.Containers[0].ModelDataUrl %}",
                    **self._package_baseline_fields(),
                }
            },
        )
        restores = [
            self._copy("RestoreBaseline", "$live.baselineUri", f"{current}/baseline.json"),
            self._copy("RestoreModel", "$live.modelDataUrl", f"{current}/model.tar.gz"),
        ]
        if self._model_monitor:
            restores += [
                self._copy(construct_id.replace("Copy", "Restore"), f"$live.{key}", f"{BASELINE_PREFIX}/{file}")
                for key, (construct_id, file) in PACKAGE_BASELINES.items()
            ]
        chain: sfn.IChainable = then
        for step in reversed(restores):
            step.add_catch(then, errors=["States.ALL"], assign={"reason": not_restored}).next(chain)
            chain = step
        describe.add_catch(then, errors=["States.ALL"], assign={"reason": not_restored}).next(chain)
        read.next(describe)
        return (
            sfn.Choice.jsonata(self, "BaselinesPublished")
            .when(sfn.Condition.jsonata("{% $published %}"), read)
            .otherwise(then)
        )

    def _discard_new_model(self, *, then: sfn.IChainable) -> sfn.IChainable:
        """A rejected promotion's model and endpoint config go at once, unless the endpoint may still use them
        (a rollback that failed): otherwise they would count among `promotion.keep_endpoint_configs` and push out
        the configs of packages that really were live."""
        names = self._names
        delete_config = self._call(
            "DiscardNewConfig",
            "sagemaker",
            "deleteEndpointConfig",
            [self._arn("endpoint-config", f"{names.prefix}-*")],
            parameters={"EndpointConfigName": "{% $endpointConfigName %}"},
        )
        delete_model = self._call(
            "DiscardNewModel",
            "sagemaker",
            "deleteModel",
            [self._arn("model", f"{names.prefix}-*")],
            parameters={"ModelName": "{% $modelName %}"},
        )
        delete_config.add_catch(delete_model, errors=["States.ALL"]).next(delete_model)  # e.g. never created
        delete_model.add_catch(then, errors=["States.ALL"]).next(then)
        return (
            sfn.Choice.jsonata(self, "NewModelUnused")
            .when(sfn.Condition.jsonata("{% $modelCreated and $not($newConfigInUse) %}"), delete_config)
            .otherwise(then)
        )

    def _claim_approval(self, *, then: sfn.IChainable, on_error: sfn.IChainable) -> sfn.IChainable:
        """SageMaker may send one state change more than once: the first execution claims it (a conditional
        write of package ARN + LastModifiedTime), any other ends quietly as DuplicateApproval. A re-approval
        after a rejection changes LastModifiedTime, so it promotes again."""
        detail = "$states.context.Execution.Input.detail"
        changed = f"($exists({detail}.LastModifiedTime) ? $string({detail}.LastModifiedTime)"
        changed += " : $states.context.Execution.Input.time)"
        claim = self._call(
            "ClaimApproval",
            "dynamodb",
            "putItem",
            [self.approvals.table_arn],
            parameters={
                "TableName": self.approvals.table_name,
                "Item": {
                    "approval": {"S": f"{{% {detail}.ModelPackageArn & '@' & {changed} %}}"},
                    "execution": {"S": "{% $states.context.Execution.Id %}"},
                    "expiresAt": {"N": f"{{% $string($floor($millis() / 1000) + {APPROVAL_CLAIM_DAYS * 86400}) %}}"},
                },
                "ConditionExpression": "attribute_not_exists(approval)",
            },
        )
        duplicate = sfn.Succeed.jsonata(self, "DuplicateApproval", comment="another execution has this approval")
        # On AWS the error is DynamoDb.ConditionalCheckFailedException (moto names the service differently):
        # matched on the exception name, any other error rejects with its reason.
        claimed = (
            sfn.Choice.jsonata(self, "AlreadyClaimed")
            .when(sfn.Condition.jsonata("{% $contains($claimError.Error, 'ConditionalCheckFailed') %}"), duplicate)
            .otherwise(
                sfn.Pass.jsonata(
                    self,
                    "ClaimFailed",
                    assign={"reason": "{% 'claiming the approval: ' & $claimError.Error & ': ' & $claimError.Cause %}"},
                ).next(on_error)
            )
        )
        claim.add_catch(claimed, errors=["States.ALL"], assign={"claimError": "{% $states.errorOutput %}"})
        return claim.next(then)

    def _approval(self) -> tasks.SnsPublish:
        names, hours = self._names, self._promotion.approval_timeout_hours
        token = "$states.context.Task.Token"
        message = " & ".join(
            [
                "'Model package ' & $package.arn & ' (version ' & $string($package.version) & ') is Approved in the'",
                f"' registry and waits for a person before it is deployed to {names.endpoint}.\\n\\nDeploy it:\\n'",
                f"'  aws stepfunctions send-task-success --task-token \"' & {token} & '\"'",
                """" --task-output '{\\"approved\\": true}'\\n\\nRefuse it (the package becomes Rejected):\\n\"""",
                f"'  aws stepfunctions send-task-failure --task-token \"' & {token} & '\"'",
                """" --error NotApproved --cause 'the reason'\\n\\n\"""",
                f"'Without an answer within {hours} hours the package is Rejected.'",
            ]
        )
        return tasks.SnsPublish.jsonata(
            self,
            "WaitForApproval",
            topic=self._where.alerts,
            subject=f"{names.prefix}: a model waits for your approval",
            message=sfn.TaskInput.from_text(f"{{% {message} %}}"),
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            task_timeout=sfn.Timeout.duration(cdk.Duration.hours(hours)),
        )

    def _endpoint_config(self) -> dict[str, Any]:
        inference, where = self._inference, self._where
        variant: dict[str, Any] = {"VariantName": VARIANT, "ModelName": "{% $modelName %}"}
        config: dict[str, Any] = {"EndpointConfigName": "{% $endpointConfigName %}", "ProductionVariants": [variant]}
        if inference.mode == "serverless":
            # Serverless endpoints support neither data capture nor a volume key (SageMaker's feature exclusions).
            variant["ServerlessConfig"] = {
                "MemorySizeInMB": inference.serverless_memory_mb,
                "MaxConcurrency": inference.serverless_max_concurrency,
            }
            return config
        variant |= {"InstanceType": inference.instance_type, "InitialInstanceCount": inference.initial_instance_count}
        if not _has_local_storage(inference.instance_type):
            config["KmsKeyId"] = where.key.key_arn
        config["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": inference.data_capture_sampling_percent,
            "DestinationS3Uri": f"s3://{where.artifacts_bucket.bucket_name}/{self._names.data_capture_prefix}",
            "KmsKeyId": where.key.key_arn,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        }
        return config

    def _scalable_target(self) -> dict[str, Any]:
        return {
            "ServiceNamespace": "sagemaker",
            "ResourceId": self._scaling_resource_id,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        }

    def _scaling(self, prefix: str, *, then: sfn.IChainable, on_error: sfn.IChainable) -> sfn.IChainable:
        """RegisterScalableTarget + a target-tracking policy on invocations per instance (instance mode)."""
        inference = self._inference
        register = self._call(
            f"{prefix}ScalableTarget",
            "applicationautoscaling",
            "registerScalableTarget",
            ["*"],
            iam_action="application-autoscaling:RegisterScalableTarget",
            parameters={
                **self._scalable_target(),
                "MinCapacity": inference.min_capacity,
                "MaxCapacity": inference.max_capacity,
            },
        )
        policy = self._call(
            f"{prefix}ScalingPolicy",
            "applicationautoscaling",
            "putScalingPolicy",
            ["*"],
            iam_action="application-autoscaling:PutScalingPolicy",
            parameters={
                **self._scalable_target(),
                "PolicyName": f"{self._names.prefix}-invocations-per-instance",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": float(inference.target_invocations_per_instance),
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                },
            },
        )
        reason = "{% $reason & ' / autoscaling: ' & $states.errorOutput.Cause %}"
        if on_error is not then:  # on the happy path a failure is the reason; after a rollback it is an addition
            reason = "{% 'autoscaling: ' & $states.errorOutput.Error & ': ' & $states.errorOutput.Cause %}"
        for step in (register, policy):
            step.add_catch(on_error, errors=["States.ALL"], assign={"reason": reason})
        return register.next(policy).next(then)

    def _delete_superseded(self, *, then: sfn.IChainable) -> sfn.IChainable:
        """Delete the endpoint configs (and their models, which have the same names) of earlier promotions beyond
        the newest `promotion.keep_endpoint_configs`, the live one always kept. Never fails a promotion: whatever
        cannot be deleted stays, and the next promotion tries again."""
        names, keep = self._names, self._promotion.keep_endpoint_configs
        ours = f"/^{names.prefix}-v[0-9]+-[0-9a-f]{{8}}$/"  # run_name's shape: never a batch model or another's
        listed = self._call(
            "ListEndpointConfigs",
            "sagemaker",
            "listEndpointConfigs",
            ["*"],
            iam_action="sagemaker:ListEndpointConfigs",
            parameters={
                "NameContains": f"{names.prefix}-v",
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 100,
            },
            assign={
                # Newest first; [..] keeps one-item results arrays (JSONata unwraps singletons)
                "superseded": (
                    # $filter, not [$ != ...]: a bare `$` is refused by Step Functions' reference checks.
                    f"{{% ($ours := [$states.result.EndpointConfigs[$match(EndpointConfigName, {ours})]"
                    ".EndpointConfigName]; $older := [$filter($ours, function($v) { $v != $endpointConfigName })];"
                    f" $count($older) > {keep - 1} ? [$older[[{keep - 1}..$count($older) - 1]]] : []) %}}"
                )
            },
        )
        delete_config = self._call(
            "DeleteSupersededConfig",
            "sagemaker",
            "deleteEndpointConfig",
            [self._arn("endpoint-config", f"{names.prefix}-*")],
            parameters={"EndpointConfigName": "{% $states.input %}"},
            # DeleteEndpointConfig returns nothing: pass the name on, the model has the same one.
            outputs="{% $states.input %}",
        )
        delete_model = self._call(
            "DeleteSupersededModel",
            "sagemaker",
            "deleteModel",
            [self._arn("model", f"{names.prefix}-*")],
            parameters={"ModelName": "{% $states.input %}"},
            outputs="{% $states.input %}",
        )
        deleted = sfn.Succeed.jsonata(self, "SupersededDeleted")
        delete_config.add_catch(delete_model, errors=["States.ALL"], outputs="{% $states.input %}")
        delete_model.add_catch(deleted, errors=["States.ALL"])
        delete_config.next(delete_model).next(deleted)
        each = sfn.Map.jsonata(
            self,
            "DeleteSuperseded",
            items=sfn.ProvideItems.jsonata("{% $superseded %}"),
            max_concurrency=1,
        )
        each.item_processor(delete_config)
        for step in (listed, each):
            step.add_catch(then, errors=["States.ALL"])
        listed.next(each).next(then)
        return listed

    def _package_baseline_fields(self) -> dict[str, str]:
        """`$package.<metadata key>`: the URI of each Model Monitor baseline the package records, or ''."""
        if not self._model_monitor:
            return {}
        metadata = "$states.result.CustomerMetadataProperties"
        return {key: f"{{% $exists({metadata}.{key}) ? {metadata}.{key} : '' %}}" for key in PACKAGE_BASELINES}

    def _model_monitor_baselines(self) -> list[tasks.CallAwsService]:
        """Copies of the package's Model Monitor baselines and the Clarify analysis configs, where the monitoring
        schedules (`native_monitoring`) read them."""
        copies = [
            self._copy(construct_id, f"$package.{key}", f"{BASELINE_PREFIX}/{file}")
            for key, (construct_id, file) in PACKAGE_BASELINES.items()
        ]
        bucket = self._where.artifacts_bucket.bucket_name
        shap_baseline = f"s3://{bucket}/{BASELINE_PREFIX}/{PACKAGE_BASELINES['model_monitor_shap_baseline'][1]}"
        configs = {
            "WriteBiasAnalysisConfig": ("model-bias", bias_analysis_config()),
            "WriteExplainabilityAnalysisConfig": (
                "model-explainability",
                explainability_analysis_config(self._names.endpoint, shap_baseline),
            ),
        }
        writes = [
            self._call(
                construct_id,
                "s3",
                "putObject",
                [self._where.artifacts_bucket.arn_for_objects(f"{BASELINE_PREFIX}/{kind}/analysis_config.json")],
                iam_action="s3:PutObject",
                parameters={
                    "Bucket": bucket,
                    "Key": f"{BASELINE_PREFIX}/{kind}/analysis_config.json",
                    "Body": json.dumps(config, sort_keys=True),
                    "ContentType": "application/json",
                    "ServerSideEncryption": "aws:kms",
                    "SSEKMSKeyId": self._where.key.key_arn,
                },
            )
            for construct_id, (kind, config) in configs.items()
        ]
        return [*copies, *writes]

    def _copy(self, construct_id: str, source_uri: str, key: str, *, published: bool = False) -> tasks.CallAwsService:
        """S3 CopyObject of `source_uri` (a JSONata expression giving s3://bucket/key) to `key` of the artifacts
        zone. `published`: once it succeeded, monitoring/current/ no longer holds the live package's files."""
        where = self._where
        return self._call(
            construct_id,
            "s3",
            "copyObject",
            [where.artifacts_bucket.arn_for_objects(key)],
            iam_action="s3:PutObject",
            additional_iam_statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[where.artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*")],
                )
            ],
            parameters={
                "Bucket": where.artifacts_bucket.bucket_name,
                "Key": key,
                "CopySource": f"{{% $substringAfter({source_uri}, 's3://') %}}",
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": where.key.key_arn,
            },
            assign={"published": True} if published else None,
        )

    def _package_arns(self) -> str:
        return self._arn("model-package", f"{self._names.model_package_group}/*")

    # ------------------------------------------------------------------------------------------ roles, Lambda

    def _endpoint_role(self) -> iam.Role:
        """What the endpoint runs as: reads the model from pipeline-runs/, writes captured requests, logs."""
        where, names = self._where, self._names
        role = iam.Role(
            self,
            "EndpointRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Execution role of the models behind {names.endpoint}",
        )
        models = where.artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*")
        capture = where.artifacts_bucket.arn_for_objects(f"{names.data_capture_prefix}/*")
        role.add_to_policy(iam.PolicyStatement(sid="ReadModels", actions=["s3:GetObject"], resources=[models]))
        role.add_to_policy(iam.PolicyStatement(sid="WriteDataCapture", actions=["s3:PutObject"], resources=[capture]))
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LakeKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[where.key.key_arn]
            )
        )
        grant_container_logs(role, f"/aws/sagemaker/Endpoints/{names.endpoint}", who="The endpoint's containers")
        grant_metrics(role, "/aws/sagemaker/Endpoints*", who="the endpoint's containers")
        for resource, why in (
            (models, "Each model's model.tar.gz sits under pipeline-runs/<execution>/, named at run time."),
            (capture, "Data capture writes <endpoint>/<variant>/yyyy/mm/dd/hh/<file> keys, made at run time."),
        ):
            acknowledge(role, "AwsSolutions-IAM5", why, finding=f"Resource::{nag_finding(role, resource)}")
        acknowledge_grant_policy(role)
        return role

    def _smoke_test_function(
        self, log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy
    ) -> lambda_.Function:
        where, names = self._where, self._names
        log_group = logs.LogGroup(
            self, "SmokeTestLogs", encryption_key=where.key, retention=log_retention, removal_policy=removal_policy
        )
        role = iam.Role(
            self,
            "SmokeTestRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Sends a few test rows to {names.endpoint} after a promotion",
        )
        test_splits = where.artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*/Preprocess/test/test.csv")
        role.add_to_policy(iam.PolicyStatement(sid="ReadTestSplit", actions=["s3:GetObject"], resources=[test_splits]))
        role.add_to_policy(iam.PolicyStatement(sid="LakeKey", actions=["kms:Decrypt"], resources=[where.key.key_arn]))
        role.add_to_policy(
            iam.PolicyStatement(sid="Invoke", actions=["sagemaker:InvokeEndpoint"], resources=[self.endpoint_arn])
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            "SmokeTestFunction",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(SMOKE_TEST_CODE), exclude=["__pycache__", "*.pyc"]),
            role=role,
            log_group=log_group,
            timeout=cdk.Duration.seconds(60),
            memory_size=256,
            description=f"Smoke test of {names.endpoint}: real test rows must come back as probabilities",
            environment={"ENDPOINT_NAME": names.endpoint, "SMOKE_TEST_ROWS": str(self._promotion.smoke_test_rows)},
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Each pipeline execution writes its own test split under pipeline-runs/<execution id>/, made at run time.",
            finding=f"Resource::{nag_finding(role, test_splits)}",
        )
        acknowledge_grant_policy(role)
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to python3.12, the runtime every Lambda of this project uses (the Powertools layer's); the code "
            "is standard library only and moves with the others.",
        )
        only_by_promotion = "The smoke test runs only inside a promotion, invoked synchronously by Step Functions"
        for rule, reason in {
            "NIST.800.53.R5-LambdaConcurrency": f"{only_by_promotion}, at most once per promotion: nothing to reserve.",
            "NIST.800.53.R5-LambdaDLQ": f"{only_by_promotion}; a failure is caught there and rolls the endpoint back.",
            "NIST.800.53.R5-LambdaInsideVPC": f"{only_by_promotion}; it talks only to S3 and SageMaker, no VPC exists.",
        }.items():
            acknowledge(function, rule, reason)
        return function

    def _approvals_table(self, removal_policy: cdk.RemovalPolicy) -> dynamodb.Table:
        """`<prefix>-promotion-approvals`: one item per approval a promotion claimed, expiring after a week."""
        table = dynamodb.Table(
            self,
            "Approvals",
            table_name=f"{self._names.prefix}-promotion-approvals",
            partition_key=dynamodb.Attribute(name="approval", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self._where.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expiresAt",
            removal_policy=removal_policy,
            deletion_protection=removal_policy == cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            table,
            "NIST.800.53.R5-DynamoDBInBackupPlan",
            f"The table only de-duplicates approval events: items expire after {APPROVAL_CLAIM_DAYS} days and losing "
            "them costs nothing but a repeated promotion of an already live package; point-in-time recovery covers it.",
        )
        return table

    def _approver_policy(self) -> iam.ManagedPolicy:
        """What a person who approves prod models needs: read the waiting execution (its task token) and answer
        it. Attach it to the approvers' role or group (README "Prod: a person approves")."""
        machine = self.state_machine.state_machine_arn
        executions = self._stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        policy = iam.ManagedPolicy(
            self,
            "ApproverPolicy",
            managed_policy_name=f"{self._names.prefix}-promotion-approver",
            description=f"Approve or refuse models waiting in {self.state_machine_name} (task token)",
            statements=[
                iam.PolicyStatement(
                    sid="FindWaitingPromotions",
                    actions=["states:ListExecutions", "states:DescribeStateMachine"],
                    resources=[machine],
                ),
                iam.PolicyStatement(
                    sid="ReadTheTaskToken",
                    actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                    resources=[executions],
                ),
                # The same grant as CDK's StateMachine.grantTaskResponse: the token decides which task is answered.
                iam.PolicyStatement(
                    sid="AnswerTheApproval",
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                    resources=[machine],
                ),
            ],
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "Executions of this one state machine are named at run time (<state machine>:<execution name>).",
            finding=f"Resource::{nag_finding(policy, executions)}",
        )
        return policy

    def _start_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "StartRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"Lets EventBridge start {self.state_machine_name}",
        )
        acknowledge_grant_policy(role)
        return role

    def _grant_state_machine(self, role: iam.IRole) -> None:
        where, names = self._where, self._names
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassEndpointRole",
                actions=["iam:PassRole"],
                resources=[self.endpoint_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        # Endpoint configs name the lake key for the volume and data capture: SageMaker creates grants with it.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="LakeKeyGrantsForEndpoints",
                actions=["kms:CreateGrant"],
                resources=[where.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="DescribeLakeKey", actions=["kms:DescribeKey"], resources=[where.key.key_arn])
        )
        # Copies between prefixes of the artifacts zone, and the encrypted alert topic.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="LakeKeyForCopiesAndAlerts",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[where.key.key_arn],
            )
        )
        if self._autoscaling:
            # The first registration creates Application Auto Scaling's service-linked role for SageMaker.
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="AutoscalingServiceLinkedRole",
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[
                        f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:role/aws-service-role/"
                        "sagemaker.application-autoscaling.amazonaws.com/"
                        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                    ],
                    conditions={
                        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
                    },
                )
            )
            # Target tracking creates and deletes its own alarms on the variant's invocations.
            alarms = self._stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name=f"TargetTracking-{self._scaling_resource_id}-*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="TargetTrackingAlarms",
                    actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
                    resources=[alarms],
                )
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ScaleTheEndpoint",
                    actions=["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
                    resources=[self.endpoint_arn],
                )
            )
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "Target tracking names its alarms TargetTracking-<resource id>-AlarmHigh/Low-<uuid> at run time.",
                finding=f"Resource::{nag_finding(role, alarms)}",
            )
        star = (
            "X-Ray (PutTraceSegments, GetSamplingRules...) and CloudWatch Logs' log delivery actions have no "
            "resource type: CDK's tracing and logging grants for the state machine"
        )
        if self._autoscaling:
            star += (
                "; Application Auto Scaling has no resource-level permissions for scalable targets and policies, "
                f"and the requests name only {self._scaling_resource_id}"
            )
        acknowledge(role, "AwsSolutions-IAM5", f"{star}.", finding="Resource::*")
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "sagemaker:ListEndpointConfigs has no resource type; the state machine deletes only <prefix>-* configs "
            "and models, named as promotions name them.",
            finding="Resource::*",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "CDK's LambdaInvoke grant covers the smoke-test function and its versions (<arn>:*); only it is invoked.",
            finding=f"Resource::{nag_finding(role, self.smoke_test.function_arn)}:*",
        )
        for resource, why in (
            (self._package_arns(), "Package versions are numbered at registration; the group is this environment's."),
            (self._arn("model", f"{names.prefix}-*"), "Each promotion names its model <prefix>-v<version>-<id>."),
            (self._arn("endpoint-config", f"{names.prefix}-*"), "Each promotion names its endpoint config likewise."),
            (
                where.artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*"),
                "The baseline and model of a package sit under pipeline-runs/<execution>/, made at run time.",
            ),
        ):
            acknowledge(role, "AwsSolutions-IAM5", why, finding=f"Resource::{nag_finding(role, resource)}")
        acknowledge_grant_policy(role)
