"""4. Smoke test: real raw rows of the package's own test split, scored by the new endpoint (a Lambda).

The function's code stays in `lambdas/smoke_test/` (see the package docstring): this module builds the
function, its log group and role, and the SmokeTest state that invokes it. A failure rolls back.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.units.model_promotion.permissions import smoke_test_role
from stacks.units.model_promotion.steps import FAILURE_REASON, Failures, Flow, FlowFragment, promotion_function

SMOKE_TEST_CODE = Path(__file__).resolve().parents[3] / "lambdas" / "smoke_test"


class SmokeTest(FlowFragment):
    """SmokeTest: the function's answer (`{"rows": n}`) is the state's output."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self._smoke = tasks.LambdaInvoke.jsonata(
            self,
            "SmokeTest",
            lambda_function=function,
            payload=sfn.TaskInput.from_object({"evaluation_uri": "{% $package.evaluationUri %}"}),
            task_timeout=sfn.Timeout.duration(cdk.Duration.minutes(2)),
            outputs="{% $states.result.Payload %}",
        )
        self._set_bounds(self._smoke, self._smoke)

    def hand_failures(self, failures: Failures) -> None:
        self._smoke.add_catch(failures.rollback, errors=["States.ALL"], assign={"reason": FAILURE_REASON})


def smoke_test_function(
    scope: Construct,
    flow: Flow,
    log_retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy,
    reserved_concurrency: int,
) -> lambda_.Function:
    """`SMOKE_TEST_ROWS` raw rows of the test split to `ENDPOINT_NAME`; every answer must be a probability and the
    decision at the package's threshold."""
    names = flow.names
    only_by_promotion = "The smoke test runs only inside a promotion, invoked synchronously by Step Functions"
    return promotion_function(
        scope,
        "SmokeTest",
        flow=flow,
        code=str(SMOKE_TEST_CODE),
        role=smoke_test_role(scope, flow),
        log_retention=log_retention,
        removal_policy=removal_policy,
        timeout=cdk.Duration.seconds(60),
        memory_size=256,
        description=f"Smoke test of {names.endpoint}: real raw test rows must come back as probabilities",
        environment={"ENDPOINT_NAME": names.endpoint, "SMOKE_TEST_ROWS": str(flow.promotion.smoke_test_rows)},
        reserved_concurrency=reserved_concurrency,
        acknowledgments={
            "AwsSolutions-L1": "Pinned to python3.12, the runtime every Lambda of this project uses (the Powertools "
            "layer's); the code is standard library only and moves with the others.",
            "NIST.800.53.R5-LambdaDLQ": f"{only_by_promotion}; a failure is caught there and rolls the endpoint back.",
        },
    )
