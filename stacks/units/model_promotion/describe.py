"""1. Describe: claim the approval event (once per approval), then read the package the run promotes (with
`promotion.source` another environment: that environment's package, read across accounts through its registry's
resource policy; `import_package` then makes it this environment's).

Start → ClaimApproval → DescribePackage → [model-monitor backend: HasModelMonitorBaselines]. A duplicate event
ends quietly (DuplicateApproval); a package without the Model Monitor baselines the backend needs is rejected
before anything is deployed.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.units.compliance import acknowledge
from stacks.units.model_promotion.steps import FAILURE_REASON, PACKAGE_ARN, ChoiceExit, Failures, Flow, FlowFragment
from stacks.units.native_monitoring import PACKAGE_BASELINES

APPROVAL_CLAIM_DAYS = 7  # duplicate events of one state change arrive within minutes; the claim expires later


class Describe(FlowFragment):
    """Start … DescribePackage: `$package` (its ARN, version, image and container environment, model and baseline
    URIs) and the names of this run's model and endpoint config."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow, approvals: dynamodb.ITable) -> None:
        super().__init__(scope, construct_id)
        names = flow.names
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
                # imported packages: whether this environment's record of it exists yet (import_package)
                **({"recorded": False} if flow.imports else {}),
            },
        )
        claim = self._claim(flow, approvals)
        version = "$string($states.result.ModelPackageVersion)"
        run_name = f"{{% '{names.promoted_model_prefix}' & {version} & '-' & $suffix %}}"
        self._describe = flow.call(
            self,
            "DescribePackage",
            "sagemaker",
            "describeModelPackage",
            [flow.described_package_arns],
            parameters={"ModelPackageName": f"{{% {PACKAGE_ARN} %}}"},
            assign={
                **_source_fields(flow),
                "package": {
                    "arn": "{% $states.result.ModelPackageArn %}",
                    "version": "{% $states.result.ModelPackageVersion %}",
                    "image": "{% $states.result.InferenceSpecification.Containers[0].Image %}",
                    "modelDataUrl": "{% $states.result.InferenceSpecification.Containers[0].ModelDataUrl %}",
                    # how the container serves it (script mode, the decision threshold): part of the package
                    "environment": (
                        "{% $exists($states.result.InferenceSpecification.Containers[0].Environment) ? "
                        "$states.result.InferenceSpecification.Containers[0].Environment : {} %}"
                    ),
                    "baselineUri": "{% $states.result.DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri %}",
                    "evaluationUri": "{% $states.result.ModelMetrics.ModelQuality.Statistics.S3Uri %}",
                    **flow.package_baseline_fields(),
                },
                # Unique per execution, so a package approved twice never collides with its first model.
                "modelName": run_name,
                "endpointConfigName": run_name,
            },
        )
        start.next(claim).next(self._describe)
        self._no_baselines: sfn.Pass | None = None
        if not flow.model_monitor:
            self._set_bounds(start, self._describe)
            return
        keys = ", ".join(PACKAGE_BASELINES)
        self._no_baselines = sfn.Pass.jsonata(
            self,
            "NoModelMonitorBaselines",
            assign={
                "reason": f"{{% $package.arn & ' has no Model Monitor baselines ({keys} metadata): monitoring."
                "backend is model-monitor, so packages must come from a training run with pipeline.native_checks"
                " true' %}"
            },
        )
        present = " and ".join(f"$package.{key} != ''" for key in PACKAGE_BASELINES)
        baselines = sfn.Choice.jsonata(self, "HasModelMonitorBaselines").otherwise(self._no_baselines)
        self._describe.next(baselines)
        self._set_bounds(start, ChoiceExit(baselines, sfn.Condition.jsonata(f"{{% {present} %}}")))

    def _claim(self, flow: Flow, approvals: dynamodb.ITable) -> sfn.IChainable:
        """SageMaker may send one state change more than once: the first execution claims it (a conditional
        write of package ARN + LastModifiedTime), any other ends quietly as DuplicateApproval. A re-approval
        after a rejection changes LastModifiedTime, so it promotes again."""
        detail = "$states.context.Execution.Input.detail"
        changed = f"($exists({detail}.LastModifiedTime) ? $string({detail}.LastModifiedTime)"
        changed += " : $states.context.Execution.Input.time)"
        claim = flow.call(
            self,
            "ClaimApproval",
            "dynamodb",
            "putItem",
            [approvals.table_arn],
            parameters={
                "TableName": approvals.table_name,
                "Item": {
                    "approval": {"S": f"{{% {detail}.ModelPackageArn & '@' & {changed} %}}"},
                    "execution": {"S": "{% $states.context.Execution.Id %}"},
                    "expiresAt": {"N": f"{{% $string($floor($millis() / 1000) + {APPROVAL_CLAIM_DAYS * 86400}) %}}"},
                },
                "ConditionExpression": "attribute_not_exists(approval)",
            },
        )
        duplicate = sfn.Succeed.jsonata(self, "DuplicateApproval", comment="another execution has this approval")
        self._claim_failed = sfn.Pass.jsonata(
            self,
            "ClaimFailed",
            assign={"reason": "{% 'claiming the approval: ' & $claimError.Error & ': ' & $claimError.Cause %}"},
        )
        # On AWS the error is DynamoDb.ConditionalCheckFailedException (moto names the service differently):
        # matched on the exception name, any other error rejects with its reason.
        claimed = (
            sfn.Choice.jsonata(self, "AlreadyClaimed")
            .when(sfn.Condition.jsonata("{% $contains($claimError.Error, 'ConditionalCheckFailed') %}"), duplicate)
            .otherwise(self._claim_failed)
        )
        claim.add_catch(claimed, errors=["States.ALL"], assign={"claimError": "{% $states.errorOutput %}"})
        return claim

    def hand_failures(self, failures: Failures) -> None:
        self._describe.add_catch(failures.rejection, errors=["States.ALL"], assign={"reason": FAILURE_REASON})
        if self._no_baselines:
            self._no_baselines.next(failures.rejection)
        self._claim_failed.next(failures.rejection)


def _source_fields(flow: Flow) -> dict[str, str]:
    """Imported packages: `$source.metadata`, the source package's lineage (its CustomerMetadataProperties)."""
    if not flow.imports:
        return {}
    metadata = "$states.result.CustomerMetadataProperties"
    return {"source": f"{{% {{'metadata': $exists({metadata}) ? {metadata} : {{}}}} %}}"}


def approvals_table(scope: Construct, flow: Flow, removal_policy: cdk.RemovalPolicy) -> dynamodb.Table:
    """`<prefix>-promotion-approvals`: one item per approval a promotion claimed, expiring after a week."""
    table = dynamodb.Table(
        scope,
        "Approvals",
        table_name=f"{flow.names.prefix}-promotion-approvals",
        partition_key=dynamodb.Attribute(name="approval", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=flow.where.key,
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
