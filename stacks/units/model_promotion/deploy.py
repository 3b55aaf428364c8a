"""2. Deploy: an endpoint config of the run's model (made by the gate), then `<prefix>-endpoint` created or updated.

CreateEndpointConfig → FindEndpoint, then by the endpoint's state: missing → CreateEndpoint;
InService → [autoscaling: DeregisterScaling] → UpdateEndpoint; Failed → DeleteFailedEndpoint and look again;
changing → WaitWhileBusy and look again (bounded); anything else → EndpointBusy (rejected, approve later).
CreateEndpoint and UpdateEndpoint start the bound on waiting for InService (`$deadline`) and end the fragment.
With `promotion.guardrails`, UpdateEndpoint is a blue/green update: traffic moves to the new fleet in canary or
linear steps, and SageMaker rolls it back by itself when a rollback alarm fires (the wait for InService then sees
the old config live again, and the package is rejected with SageMaker's reason).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from naming.resources import ENDPOINT_ALARMS
from stacks.units.model_promotion.steps import FAILURE_REASON, VARIANT, Failures, Flow, FlowFragment

# Instance families whose storage is local NVMe: SageMaker refuses a KmsKeyId for them (already encrypted).
_LOCAL_STORAGE_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p4d", "p5", "inf2", "trn1")


def has_local_storage(instance_type: str) -> bool:
    family = instance_type.split(".")[1]
    return family in _LOCAL_STORAGE_FAMILIES or family.endswith("d")


class Deploy(FlowFragment):
    """CreateEndpointConfig … CreateEndpoint | UpdateEndpoint (the two end states)."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow) -> None:
        super().__init__(scope, construct_id)
        names = flow.names
        self._endpoint = names.endpoint
        timeout_minutes = flow.promotion.in_service_timeout_minutes
        deadline = {"deadline": flow.in_service_deadline()}
        # Built from the endpoint back to the model: a Choice needs the states its rules lead to.
        self._create_endpoint = flow.call(
            self,
            "CreateEndpoint",
            "sagemaker",
            "createEndpoint",
            [flow.endpoint_arn, flow.endpoint_configs],
            parameters={"EndpointName": names.endpoint, "EndpointConfigName": "{% $endpointConfigName %}"},
            assign={**deadline, "firstDeploy": True, "newConfigInUse": True},
        )
        self._update_endpoint = flow.call(
            self,
            "UpdateEndpoint",
            "sagemaker",
            "updateEndpoint",
            [flow.endpoint_arn, flow.endpoint_configs],
            parameters={
                "EndpointName": names.endpoint,
                "EndpointConfigName": "{% $endpointConfigName %}",
                **deployment_config(flow),
            },
            assign={**deadline, "newConfigInUse": True},
        )
        before_update: sfn.IChainable = self._update_endpoint
        if flow.autoscaling:
            # Autoscaling blocks an update that changes the instance type: deregister (which also deletes the
            # policy), update, register again once InService. Nothing registered yet is fine.
            deregister = flow.call(
                self,
                "DeregisterScaling",
                "applicationautoscaling",
                "deregisterScalableTarget",
                ["*"],
                iam_action="application-autoscaling:DeregisterScalableTarget",
                parameters=flow.scalable_target(),
            )
            deregister.add_catch(self._update_endpoint, errors=["States.ALL"]).next(self._update_endpoint)
            before_update = deregister
        # Another promotion (or SageMaker itself) is changing the endpoint: wait for it, within the same bound as
        # the wait for InService, instead of rejecting a good package for its timing.
        self._busy = sfn.Pass.jsonata(
            self,
            "EndpointBusy",
            assign={
                "reason": f"{{% '{names.endpoint} stayed ' & $endpointStatus & ' for {timeout_minutes} minutes: "
                "approve again later' %}"
            },
        )
        wait_busy = flow.poll(self, "WaitWhileBusy")
        # DeleteEndpoint is the only operation SageMaker allows on a Failed endpoint (EndpointSummary's
        # EndpointStatus): delete it, wait until it is gone, then create it anew with this package.
        self._delete_failed = flow.call(
            self,
            "DeleteFailedEndpoint",
            "sagemaker",
            "deleteEndpoint",
            [flow.endpoint_arn],
            parameters={"EndpointName": names.endpoint},
        )
        self._delete_failed.next(wait_busy)
        changing = "['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting']"
        ready = (
            sfn.Choice.jsonata(self, "EndpointReady")
            .when(sfn.Condition.jsonata("{% $endpointStatus = 'InService' %}"), before_update)
            .when(sfn.Condition.jsonata("{% $endpointStatus = 'Failed' %}"), self._delete_failed)
            .when(sfn.Condition.jsonata(f"{{% $endpointStatus in {changing} and $millis() < $busyUntil %}}"), wait_busy)
            .otherwise(self._busy)
        )
        self._missing = sfn.Choice.jsonata(self, "EndpointMissing").when(
            sfn.Condition.jsonata(
                "{% $exists($lookupError.Cause) and $contains($lookupError.Cause, 'Could not find endpoint') %}"
            ),
            self._create_endpoint,
        )
        find = flow.describe_endpoint(
            self,
            "FindEndpoint",
            {
                "previousConfig": "{% $states.result.EndpointConfigName %}",
                "endpointStatus": "{% $states.result.EndpointStatus %}",
                "failureReason": "{% $states.result.FailureReason ? $states.result.FailureReason : '' %}",
            },
        )
        find.add_catch(
            self._missing,
            errors=["States.ALL"],
            assign={"lookupError": "{% $states.errorOutput %}", "reason": FAILURE_REASON},
        ).next(ready)
        wait_busy.next(find)

        self._create_config = flow.call(
            self,
            "CreateEndpointConfig",
            "sagemaker",
            "createEndpointConfig",
            [flow.endpoint_configs],
            parameters=endpoint_config(flow),
            assign={"busyUntil": flow.in_service_deadline()},
        )
        self._create_config.next(find)
        self._set_bounds(self._create_config, self._create_endpoint, self._update_endpoint)

    def hand_failures(self, failures: Failures) -> None:
        # Nothing of the endpoint changed yet, except that a failed update was rolled back by SageMaker itself.
        reject = failures.rejection
        self._create_endpoint.add_catch(reject, errors=["States.ALL"], assign={"reason": FAILURE_REASON})
        self._update_endpoint.add_catch(
            failures.restore_scaling, errors=["States.ALL"], assign={"reason": FAILURE_REASON}
        )
        self._busy.next(reject)
        self._delete_failed.add_catch(
            reject,
            errors=["States.ALL"],
            assign={
                "reason": f"{{% '{self._endpoint} is Failed (' & $failureReason & ') and deleting it failed: '"
                " & $states.errorOutput.Cause %}"
            },
        )
        self._missing.otherwise(reject)
        self._create_config.add_catch(reject, errors=["States.ALL"], assign={"reason": FAILURE_REASON})


def deployment_config(flow: Flow) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig from `promotion.guardrails` (none: SageMaker replaces the fleet at once)."""
    guardrails = flow.promotion.guardrails
    if guardrails is None:
        return {}
    routing: dict[str, Any] = {
        "Type": guardrails.traffic_routing.upper(),
        "WaitIntervalInSeconds": guardrails.wait_interval_seconds,
    }
    if guardrails.canary_size_percent is not None:
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": guardrails.canary_size_percent}
    if guardrails.linear_step_percent is not None:
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": guardrails.linear_step_percent}
    return {
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": routing,
                "TerminationWaitInSeconds": guardrails.termination_wait_seconds,
                "MaximumExecutionTimeoutInSeconds": guardrails.max_execution_timeout_seconds,
            },
            "AutoRollbackConfiguration": {
                "Alarms": [{"AlarmName": flow.names.endpoint_alarm(kind)} for kind in ENDPOINT_ALARMS]
            },
        }
    }


def endpoint_config(flow: Flow) -> dict[str, Any]:
    """CreateEndpointConfig's request: one variant of the run's model, serverless or on instances."""
    inference, where = flow.inference, flow.where
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
    if not has_local_storage(inference.instance_type):
        config["KmsKeyId"] = where.key.key_arn
    config["DataCaptureConfig"] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": inference.data_capture_sampling_percent,
        "DestinationS3Uri": f"s3://{where.artifacts_bucket.bucket_name}/{flow.names.data_capture_prefix}",
        "KmsKeyId": where.key.key_arn,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        # raw requests, CSV or JSON, captured as text (not BASE64): monitoring reads them as the endpoint did
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
    }
    return config
