"""1c. Champion/challenger: the candidate is deployed only if, on the same held-out rows, it is not worse than the
live model (the champion) by more than `promotion.champion_challenger` allows.

CreateModel (the candidate's model, which the deploy then uses) → FindChampion: the endpoint's live config and
its model, if the endpoint is InService (none: the first model, which passes) → ScoreModels: one batch transform
job per model (the candidate, and the champion if any) on the candidate's test split as raw records (what a client
sends; each model's own handlers encode it), each output line `label,probability`, polled until done within
`timeout_minutes` → CompareModels (the checks Lambda: AUC and the expected cost per
1,000 decisions of both, measured the same way) → GateVerdict. `$gate` keeps the figures for the approval
message, the package metadata and the notifications; a refusal rejects the package with them.

Where the held-out data comes from: the candidate's own test split (`<run>/Preprocess/raw_test/test.csv`), rows its
training never saw; the champion, trained on an earlier snapshot, may have seen some of them in training, which
only favours the champion: the gate errs on the side of the live model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_code import schema
from stacks.units.model_promotion.deploy import has_local_storage
from stacks.units.model_promotion.import_package import RAW_TEST_SPLIT_SUFFIX, split_of
from stacks.units.model_promotion.permissions import checks_role
from stacks.units.model_promotion.steps import (
    FAILURE_REASON,
    ChoiceExit,
    Failures,
    Flow,
    FlowFragment,
    promotion_function,
)

CHECKS_CODE = Path(__file__).resolve().parents[3] / "lambdas" / "promotion_checks"
TRANSFORM_OUTPUT = "test.csv.out"  # a transform job names its output after the input object


class ChampionChallenger(FlowFragment):
    """CreateModel … GateVerdict (its end: the rule for a passed gate)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        flow: Flow,
        endpoint_role: iam.IRole,
        checks: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        names, settings = flow.names, flow.promotion.champion_challenger
        self._verdict = sfn.Choice.jsonata(self, "GateVerdict")
        self._refused = sfn.Pass.jsonata(
            self, "GateRefused", assign={"reason": "{% 'champion/challenger: ' & $gate.summary %}"}
        )
        self._verdict.otherwise(self._refused)
        compare = tasks.LambdaInvoke.jsonata(
            self,
            "CompareModels",
            lambda_function=checks,
            payload=sfn.TaskInput.from_object(
                {
                    "check": "gate",
                    "candidate_uri": f"{{% $gateOutput & '/candidate/{TRANSFORM_OUTPUT}' %}}",
                    "champion_uri": f"{{% $championModel = '' ? '' : $gateOutput & '/champion/{TRANSFORM_OUTPUT}' %}}",
                    # the raw test split's label words (the transform keeps them beside each probability)
                    "labels": list(schema.load(names.dataset).label_values),  # (negative, positive)
                    "false_positive_cost": flow.thresholds.false_positive_cost,
                    "false_negative_cost": flow.thresholds.false_negative_cost,
                    "max_auc_drop": settings.max_auc_drop,
                    "max_cost_increase_per_1000": settings.max_cost_increase_per_1000,
                }
            ),
            task_timeout=sfn.Timeout.duration(cdk.Duration.minutes(5)),
            assign={"gate": "{% $states.result.Payload %}"},
        )
        compare.next(self._verdict)
        self._score = sfn.Map.jsonata(
            self,
            "ScoreModels",
            # literal arrays: a path over a one-item array would give JSONata's singleton, not an array
            items=sfn.ProvideItems.jsonata(
                f"{{% $championModel = '' ? [{_item(names.gate_job_prefix, 'candidate', '$modelName')}] : "
                f"[{_item(names.gate_job_prefix, 'candidate', '$modelName')}, "
                f"{_item(names.gate_job_prefix, 'champion', '$championModel')}] %}}"
            ),
            max_concurrency=2,
        )
        self._score.item_processor(self._transform(flow))
        self._score.next(compare)
        self._compare = compare

        start_scoring: dict[str, Any] = {
            "gateOutput": (
                f"{{% 's3://{flow.where.artifacts_bucket.bucket_name}/{names.gate_outputs_prefix}/' & $suffix %}}"
            ),
            "gateInput": f"{{% {split_of('$package.evaluationUri', RAW_TEST_SPLIT_SUFFIX)} %}}",
            "gateDeadline": f"{{% $millis() + {settings.timeout_minutes * 60 * 1000} %}}",
        }
        self._champion_config = flow.call(
            self,
            "DescribeChampionConfig",
            "sagemaker",
            "describeEndpointConfig",
            [flow.endpoint_configs],
            parameters={"EndpointConfigName": "{% $championConfig %}"},
            assign={**start_scoring, "championModel": "{% $states.result.ProductionVariants[0].ModelName %}"},
        )
        self._champion_config.next(self._score)
        no_champion = sfn.Pass.jsonata(self, "NoChampion", assign={**start_scoring, "championModel": ""})
        no_champion.next(self._score)
        has_champion = (
            sfn.Choice.jsonata(self, "HasChampion")
            .when(sfn.Condition.jsonata("{% $championConfig != '' %}"), self._champion_config)
            .otherwise(no_champion)
        )
        find = flow.describe_endpoint(
            self,
            "FindChampion",
            {
                # an endpoint being updated still serves its config's model: that one is the champion
                "championConfig": (
                    "{% $states.result.EndpointStatus in ['InService', 'Updating', 'SystemUpdating'] ?"
                    " $states.result.EndpointConfigName : '' %}"
                )
            },
        )
        find.add_catch(has_champion, errors=["States.ALL"], assign={"championConfig": ""}).next(has_champion)
        self._create_model = flow.call(
            self,
            "CreateModel",
            "sagemaker",
            "createModel",
            [flow.models],
            parameters={
                "ModelName": "{% $modelName %}",
                "ExecutionRoleArn": endpoint_role.role_arn,
                "PrimaryContainer": {
                    "Image": "{% $package.image %}",
                    "ModelDataUrl": "{% $package.modelDataUrl %}",
                    "Environment": "{% $package.environment %}",
                },
                # Serverless endpoints support no network isolation; the XGBoost container needs none (its script
                # mode installs the handlers packed in model.tar.gz, nothing from the internet).
                "EnableNetworkIsolation": flow.inference.mode == "instance",
                # In the subnets where the environment has a network: the endpoint and the gate's transforms.
                **model_network(flow),
            },
            assign={"modelCreated": True},
        )
        self._create_model.next(find)
        self._set_bounds(self._create_model, ChoiceExit(self._verdict, sfn.Condition.jsonata("{% $gate.passed %}")))

    def _transform(self, flow: Flow) -> sfn.IChainable:
        """One model's batch transform of the raw test split (label kept beside the probability), polled until it
        ends. Each line goes to the model whole (its handlers ignore a label column); the joined line is the raw
        record then the answer's `probability,decision`, of which the label and the probability are kept."""
        where, inference = flow.where, flow.inference
        resources: dict[str, Any] = {"InstanceType": inference.instance_type, "InstanceCount": 1}
        if not has_local_storage(inference.instance_type):
            resources["VolumeKmsKeyId"] = where.key.key_arn
        create = flow.call(
            self,
            "StartTransform",
            "sagemaker",
            "createTransformJob",
            [flow.transform_jobs],
            parameters={
                "TransformJobName": "{% $states.input.job %}",
                "ModelName": "{% $states.input.model %}",
                "BatchStrategy": "MultiRecord",
                "MaxPayloadInMB": 6,
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "{% $states.input.input %}"}},
                    "ContentType": "text/csv",
                    "SplitType": "Line",
                },
                "TransformOutput": {
                    "S3OutputPath": "{% $states.input.output %}",
                    "Accept": "text/csv",
                    "AssembleWith": "Line",
                    "KmsKeyId": where.key.key_arn,
                },
                "TransformResources": resources,
                # `label,probability` per line: the raw record's last field, and the answer's first
                "DataProcessing": {"JoinSource": "Input", "OutputFilter": "$[-3,-2]"},
            },
            outputs="{% $states.input %}",
        )
        wait = flow.poll(self, "WaitForTransform")
        check = flow.call(
            self,
            "CheckTransform",
            "sagemaker",
            "describeTransformJob",
            [flow.transform_jobs],
            parameters={"TransformJobName": "{% $states.input.job %}"},
            outputs=(
                "{% $merge([$states.input, {'status': $states.result.TransformJobStatus, 'failure': "
                "$exists($states.result.FailureReason) ? $states.result.FailureReason : ''}]) %}"
            ),
        )
        failed = sfn.Fail.jsonata(
            self,
            "TransformFailed",
            error="TransformFailed",
            cause="{% $states.input.job & ' (' & $states.input.model & ') ended ' & $states.input.status & ': ' "
            "& $states.input.failure %}",
        )
        timed_out = sfn.Fail.jsonata(
            self,
            "TransformTimedOut",
            error="TransformTimedOut",
            cause="{% $states.input.job & ' did not finish within the gate timeout' %}",
        )
        state = (
            sfn.Choice.jsonata(self, "TransformState")
            .when(
                sfn.Condition.jsonata("{% $states.input.status = 'Completed' %}"), sfn.Succeed.jsonata(self, "Scored")
            )
            .when(sfn.Condition.jsonata("{% $states.input.status in ['Failed', 'Stopped'] %}"), failed)
            .when(sfn.Condition.jsonata("{% $millis() < $states.input.deadline %}"), wait)
            .otherwise(timed_out)
        )
        return create.next(wait).next(check).next(state)

    def hand_failures(self, failures: Failures) -> None:
        reject = failures.rejection
        self._refused.next(reject)
        self._compare.add_catch(reject, errors=["States.ALL"], assign={"reason": FAILURE_REASON})
        self._score.add_catch(
            reject,
            errors=["States.ALL"],
            assign={"reason": "{% 'champion/challenger: ' & $states.errorOutput.Cause %}"},
        )
        self._champion_config.add_catch(reject, errors=["States.ALL"], assign={"reason": FAILURE_REASON})
        self._create_model.add_catch(reject, errors=["States.ALL"], assign={"reason": FAILURE_REASON})


def _item(job_prefix: str, role: str, model: str) -> str:
    """JSONata: one transform job of ScoreModels (its name, model, output folder, input and deadline)."""
    return (
        f"{{'job': '{job_prefix}' & $suffix & '-{role}', 'model': {model}, 'role': '{role}', "
        f"'output': $gateOutput & '/{role}', 'input': $gateInput, 'deadline': $gateDeadline}}"
    )


def checks_function(
    scope: Construct,
    flow: Flow,
    log_retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy,
    reserved_concurrency: int,
) -> lambda_.Function:
    """The digest and gate checks (`lambdas/promotion_checks`): read objects, compute, answer."""
    only_by_promotion = "The checks run only inside a promotion, invoked synchronously by Step Functions"
    return promotion_function(
        scope,
        "Checks",
        flow=flow,
        code=str(CHECKS_CODE),
        role=checks_role(scope, flow),
        log_retention=log_retention,
        removal_policy=removal_policy,
        timeout=cdk.Duration.minutes(5),
        memory_size=1024,
        description=f"Promotion checks of {flow.names.endpoint}: artifact digest, champion/challenger figures",
        reserved_concurrency=reserved_concurrency,
        acknowledgments={
            "AwsSolutions-L1": "Pinned to python3.12, the runtime every Lambda of this project uses; the code is "
            "standard library only.",
            "NIST.800.53.R5-LambdaDLQ": f"{only_by_promotion}; a failure is caught there and rejects the package.",
        },
    )


def model_network(flow: Flow) -> dict[str, Any]:
    """CreateModel's VpcConfig: the environment's subnets and the jobs' security groups (none without a VPC)."""
    if flow.network is None:
        return {}
    return {
        "VpcConfig": {
            "Subnets": flow.network.subnet_ids,
            "SecurityGroupIds": flow.network.jobs_security_group_ids,
        }
    }
