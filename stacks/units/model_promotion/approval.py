"""Between describe and deploy, where config asks for it (`promotion.manual_approval`, prod): a person decides.

WaitForApproval sends the alert topic a message with the task token, the champion/challenger figures, the lineage
and the two commands that answer it, then waits up to `promotion.approval_timeout_hours`. Success deploys, and
the approver it names (`"approver"` in the task output; CloudTrail records the caller too) goes into the
package's lineage; a refusal or no answer rejects the package. This is the one approval of a model for prod: the
release pipeline's PromoteToProd approves code and infrastructure, never a model (docs/operations.md).
The permissions a person needs to answer are `permissions.approver_policy`.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.units.model_promotion.steps import Failures, Flow, FlowFragment

# What the person wrote as "approver", in the characters package metadata allows (1-256), or "not named".
APPROVER = (
    "{% ($name := $exists($states.result.approver) ? $substring($replace($string($states.result.approver), "
    "/[^A-Za-z0-9 _.:=+@-]/, '_'), 0, 256) : ''; $name = '' ? 'not named' : $name) %}"
)


class Approval(FlowFragment):
    """WaitForApproval: an SNS message, then the task token's answer."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow) -> None:
        super().__init__(scope, construct_id)
        names, self._hours = flow.names, flow.promotion.approval_timeout_hours
        token = "$states.context.Task.Token"
        message = " & ".join(
            [
                *(
                    [
                        f"'Model package ' & $lineage.source_package & ', validated in {flow.source.environment}, "
                        f"waits for a person before it is deployed to {names.endpoint} (recorded here as ' & "
                        "$package.arn & ').\\n\\n'",
                        "'Trained by: ' & $lineage.training_run & '\\nValidated by: ' & $lineage.source_validation"
                        " & '\\nArtifact sha256 (checked): ' & $lineage.artifact_sha256 & '\\n'",
                    ]
                    if flow.source
                    else [
                        "'Model package ' & $package.arn & ' (version ' & $string($package.version) & ') is Approved"
                        " in the'",
                        f"' registry and waits for a person before it is deployed to {names.endpoint}.\\n\\n'",
                    ]
                ),
                "'Champion/challenger: ' & $gate.summary & '\\n'",
                "'\\nDeploy it:\\n'",
                f"'  aws stepfunctions send-task-success --task-token \"' & {token} & '\"'",
                """" --task-output '{\\"approved\\": true, \\"approver\\": \\"<your name>\\"}'\\n\\n\"""",
                """"Refuse it (the package becomes Rejected):\\n\"""",
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
            assign={"approver": APPROVER},
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
