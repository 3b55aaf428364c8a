"""Rollback: any failure after the endpoint changed puts it back, then rejects the package (`rejection`).

Rollback (a Choice): an endpoint this run created is deleted (DeleteNewEndpoint); one SageMaker already rolled
back (InService on the previous config) only gets its autoscaling again; otherwise RevertEndpoint to the previous
config, waited for (WaitForRevert → CheckRevert → RevertState, bounded), then [autoscaling: RestoreScalableTarget
→ RestoreScalingPolicy]. Every way out, failures of the rollback itself included, leads to the rejection.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.units.model_promotion.steps import Flow, FlowFragment


class Rollback(FlowFragment):
    """Rollback … RestoreScalingPolicy; `restore_scaling` is also where a failed UpdateEndpoint goes."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow, then: sfn.IChainable) -> None:
        super().__init__(scope, construct_id)
        names = flow.names
        self.restore_scaling = self._scaling(flow, then=then) if flow.autoscaling else then
        revert = flow.call(
            self,
            "RevertEndpoint",
            "sagemaker",
            "updateEndpoint",
            [flow.endpoint_arn],
            parameters={"EndpointName": names.endpoint, "EndpointConfigName": "{% $previousConfig %}"},
            assign={"revertUntil": flow.in_service_deadline()},
        )
        revert.add_catch(
            then,
            errors=["States.ALL"],
            assign={"reason": "{% $reason & ' (rollback failed too: ' & $states.errorOutput.Cause & ')' %}"},
        ).next(self._wait_for_revert(flow, then=self.restore_scaling, on_error=then))
        delete = flow.call(
            self,
            "DeleteNewEndpoint",
            "sagemaker",
            "deleteEndpoint",
            [flow.endpoint_arn],
            parameters={"EndpointName": names.endpoint},
            assign={"newConfigInUse": False},
        )
        delete.add_catch(
            then,
            errors=["States.ALL"],
            assign={
                "reason": "{% $reason & ' (deleting the endpoint failed too: ' & $states.errorOutput.Cause & ')' %}"
            },
        ).next(then)
        rollback = (
            sfn.Choice.jsonata(self, "Rollback")
            .when(sfn.Condition.jsonata("{% $firstDeploy %}"), delete)
            # A failed update is rolled back by SageMaker itself: the endpoint is InService on the old config.
            .when(
                sfn.Condition.jsonata("{% $endpointStatus = 'InService' and $liveConfig = $previousConfig %}"),
                self.restore_scaling,
                assign={"newConfigInUse": False},
            )
            .otherwise(revert)
        )
        self._set_bounds(rollback)

    def _scaling(self, flow: Flow, *, then: sfn.IChainable) -> sfn.IChainable:
        """Autoscaling registered again (the update deregistered it); a failure adds to the reason."""
        register, policy = flow.scaling(self, "Restore")
        for step in (register, policy):
            step.add_catch(
                then,
                errors=["States.ALL"],
                assign={"reason": "{% $reason & ' / autoscaling: ' & $states.errorOutput.Cause %}"},
            )
        policy.next(then)
        return register

    def _wait_for_revert(self, flow: Flow, *, then: sfn.IChainable, on_error: sfn.IChainable) -> sfn.IChainable:
        """After RevertEndpoint, wait until the endpoint is InService on the previous config: Application Auto
        Scaling refuses to register a target of an endpoint being updated, and the new config may only be deleted
        once the endpoint has left it."""
        wait = flow.poll(self, "WaitForRevert")
        check = flow.describe_endpoint(
            self,
            "CheckRevert",
            {
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
