"""4b. Soak (`promotion.soak_minutes` > 0): the new model serves for a while before it counts as validated.

Soak (a Wait) → CheckRollbackAlarms: any of the endpoint's rollback alarms (`<prefix>-endpoint-5xx`,
`-latency-p99`) in ALARM rolls the endpoint back and rejects the package; otherwise the run goes on to publish.
The alarms themselves are `rollback_alarms` (below): the guardrails watch them during a blue/green update, the
soak after it, and they notify the alert topic like every other alarm.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from naming.resources import ENDPOINT_ALARMS
from stacks.units.model_promotion.steps import FAILURE_REASON, VARIANT, ChoiceExit, Failures, Flow, FlowFragment


class Soak(FlowFragment):
    """Soak … SoakVerdict (its end: the rule for no alarm)."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow) -> None:
        super().__init__(scope, construct_id)
        minutes = flow.promotion.soak_minutes
        wait = sfn.Wait.jsonata(self, "Soak", time=sfn.WaitTime.duration(cdk.Duration.minutes(minutes)))
        self._check = flow.call(
            self,
            "CheckRollbackAlarms",
            "cloudwatch",
            "describeAlarms",
            flow.alarm_arns,
            parameters={"AlarmNames": [flow.names.endpoint_alarm(kind) for kind in ENDPOINT_ALARMS]},
            assign={"alarming": "{% [$states.result.MetricAlarms[StateValue = 'ALARM'].AlarmName] %}"},
        )
        self._verdict = sfn.Choice.jsonata(self, "SoakVerdict")
        self._minutes = minutes
        wait.next(self._check).next(self._verdict)
        self._set_bounds(wait, ChoiceExit(self._verdict, sfn.Condition.jsonata("{% $count($alarming) = 0 %}")))

    def hand_failures(self, failures: Failures) -> None:
        self._check.add_catch(failures.rollback, errors=["States.ALL"], assign={"reason": FAILURE_REASON})
        self._verdict.otherwise(failures.rollback)
        self._verdict.when(
            sfn.Condition.jsonata("{% $count($alarming) > 0 %}"),
            failures.rollback,
            assign={"reason": f"{{% 'in ALARM after a soak of {self._minutes} minutes: ' & $join($alarming, ', ') %}}"},
        )


def rollback_alarms(scope: Construct, flow: Flow) -> list[cloudwatch.Alarm]:
    """`<prefix>-endpoint-5xx` (share of invocations failing with 5xx) and `<prefix>-endpoint-latency-p99` (model
    latency's 99th percentile), each over two consecutive minutes; no traffic is no breach."""
    names, settings = flow.names, flow.promotion.rollback_alarms
    dimensions = {"EndpointName": names.endpoint, "VariantName": VARIANT}

    def metric(name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=cdk.Duration.minutes(1),
        )

    error_rate = cloudwatch.MathExpression(
        expression="100 * errors / invocations",
        using_metrics={"errors": metric("Invocation5XXErrors", "Sum"), "invocations": metric("Invocations", "Sum")},
        label="5xx errors (% of invocations)",
        period=cdk.Duration.minutes(1),
    )
    alarms = [
        cloudwatch.Alarm(
            scope,
            "Endpoint5xxAlarm",
            alarm_name=names.endpoint_alarm("5xx"),
            alarm_description=f"More than {settings.max_5xx_percent} % of {names.endpoint}'s invocations fail "
            "with 5xx: rolls a guarded update back, ends a soak (docs/operations.md)",
            metric=error_rate,
            threshold=settings.max_5xx_percent,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
        cloudwatch.Alarm(
            scope,
            "EndpointLatencyAlarm",
            alarm_name=names.endpoint_alarm("latency-p99"),
            alarm_description=f"{names.endpoint}'s model latency p99 above {settings.max_latency_p99_ms} ms: rolls "
            "a guarded update back, ends a soak (docs/operations.md)",
            # ModelLatency is in microseconds
            metric=metric("ModelLatency", "p99"),
            threshold=settings.max_latency_p99_ms * 1000,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    ]
    for alarm in alarms:
        alarm.add_alarm_action(actions.SnsAction(flow.where.alerts))
        alarm.add_ok_action(actions.SnsAction(flow.where.alerts))
    return alarms
