"""3. Await in service: poll the endpoint until it is InService on this run's config, within a bound.

WaitForEndpoint → CheckEndpoint → EndpointState: InService on the new config ends the fragment; Failed,
SageMaker's own rollback (InService on another config) or `promotion.in_service_timeout_minutes` passed
(`$deadline`, set by CreateEndpoint/UpdateEndpoint) roll back; anything else waits again.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.units.model_promotion.steps import FAILURE_REASON, ChoiceExit, Failures, Flow, FlowFragment


class AwaitInService(FlowFragment):
    """WaitForEndpoint … EndpointState; its end is EndpointState's first rule (InService on the new config)."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow) -> None:
        super().__init__(scope, construct_id)
        self._timeout_minutes = flow.promotion.in_service_timeout_minutes
        wait = flow.poll(self, "WaitForEndpoint")
        self._check = flow.describe_endpoint(
            self,
            "CheckEndpoint",
            {
                "endpointStatus": "{% $states.result.EndpointStatus %}",
                "liveConfig": "{% $states.result.EndpointConfigName %}",
                "failureReason": "{% $states.result.FailureReason ? $states.result.FailureReason : '' %}",
            },
        )
        self._state = sfn.Choice.jsonata(self, "EndpointState").otherwise(wait)
        wait.next(self._check).next(self._state)
        in_service = "{% $endpointStatus = 'InService' and $liveConfig = $endpointConfigName %}"
        self._set_bounds(wait, ChoiceExit(self._state, sfn.Condition.jsonata(in_service)))

    def hand_failures(self, failures: Failures) -> None:
        rollback = failures.rollback
        self._check.add_catch(rollback, errors=["States.ALL"], assign={"reason": FAILURE_REASON})
        self._state.when(
            sfn.Condition.jsonata(
                "{% $endpointStatus in ['Failed', 'OutOfService', 'UpdateRollbackFailed', 'Deleting']"
                " or $endpointStatus = 'InService' %}"
            ),
            rollback,
            assign={
                "reason": "{% 'the endpoint did not take the new config: ' & $endpointStatus & ' '"
                " & $liveConfig & ' ' & $failureReason %}"
            },
        ).when(
            sfn.Condition.jsonata("{% $millis() > $deadline %}"),
            rollback,
            assign={
                "reason": f"{{% 'not InService within {self._timeout_minutes} minutes (' & $endpointStatus & ')' %}}"
            },
        )
