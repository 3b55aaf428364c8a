"""Between describe and deploy, where config asks for it (`promotion.manual_approval`, prod): a person decides.

WaitForApproval sends the alert topic a message with the task token and the two commands that answer it, then
waits up to `promotion.approval_timeout_hours`. Success deploys; a refusal or no answer rejects the package.
The permissions a person needs to answer are `permissions.approver_policy`.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.units.model_promotion.steps import Failures, Flow, FlowFragment


class Approval(FlowFragment):
    """WaitForApproval: an SNS message, then the task token's answer."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow) -> None:
        super().__init__(scope, construct_id)
        names, self._hours = flow.names, flow.promotion.approval_timeout_hours
        token = "$states.context.Task.Token"
        message = " & ".join(
            [
                "'Model package ' & $package.arn & ' (version ' & $string($package.version) & ') is Approved in the'",
                f"' registry and waits for a person before it is deployed to {names.endpoint}.\\n\\nDeploy it:\\n'",
                f"'  aws stepfunctions send-task-success --task-token \"' & {token} & '\"'",
                """" --task-output '{\\"approved\\": true}'\\n\\nRefuse it (the package becomes Rejected):\\n\"""",
                f"'  aws stepfunctions send-task-failure --task-token \"' & {token} & '\"'",
                """" --error NotApproved --cause 'the reason'\\n\\n\"""",
                f"'Without an answer within {self._hours} hours the package is Rejected.'",
            ]
        )
        self._wait = tasks.SnsPublish.jsonata(
            self,
            "WaitForApproval",
            topic=flow.where.alerts,
            subject=f"{names.prefix}: a model waits for your approval",
            message=sfn.TaskInput.from_text(f"{{% {message} %}}"),
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            task_timeout=sfn.Timeout.duration(cdk.Duration.hours(self._hours)),
        )
        self._set_bounds(self._wait, self._wait)

    def hand_failures(self, failures: Failures) -> None:
        self._wait.add_catch(
            failures.rejection,
            errors=["States.Timeout"],
            assign={"reason": f"no decision within {self._hours} hours of approval"},
        )
        self._wait.add_catch(
            failures.rejection,
            errors=["States.ALL"],
            assign={
                "reason": "{% 'refused by a person: ' & $states.errorOutput.Error & ': ' & $states.errorOutput.Cause %}"
            },
        )
