"""EventBridge in the twin: the synthesized rules route events, moto's own matcher decides, SQS holds deliveries.

For each consumer (a Lambda function or the promotion state machine) the twin puts every synthesized rule that
targets it on moto's default bus, with the rule's resolved pattern, and points it at a delivery queue of its
own instead of the function: moto then matches each event (S3's own Object Created events from its EventBridge
notifications, and the events the twin puts for services moto does not emit for) exactly as the deployed rules
would, and the loop hands what arrived to the consumer in-process.

Events that moto does not emit (SageMaker's model-package state change, CloudWatch's alarm state change) are built
here in the documented shape from what moto describes, and put on the bus like AWS would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"


@dataclass
class Delivery:
    """The delivery queue of one consumer and the rules of the stage that target it."""

    consumer: str
    queue_url: str
    rules: list[str]
    account: str


class EventRoutes:
    """Synthesized rules on moto's bus, each consumer's deliveries collected in its own queue."""

    def __init__(self, events: Any, sqs: Any) -> None:
        self.events, self.sqs = events, sqs
        self.deliveries: dict[str, Delivery] = {}

    def route(self, consumer: str, patterns: list[dict[str, Any]]) -> Delivery:
        """Put one rule per synthesized pattern that targets `consumer`, delivering to a queue of its own."""
        queue_url = self.sqs.create_queue(QueueName=f"twin-{consumer}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rules = []
        for number, pattern in enumerate(patterns):
            name = f"twin-{consumer}-{number}"
            self.events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
            self.events.put_targets(Rule=name, Targets=[{"Id": "delivery", "Arn": arn}])
            rules.append(name)
        self.deliveries[consumer] = Delivery(consumer, queue_url, rules, account=arn.split(":")[4])
        return self.deliveries[consumer]

    def received(self, consumer: str) -> list[dict[str, Any]]:
        """Every event delivered to `consumer` since the last call, in arrival order (and removed from its queue)."""
        delivery = self.deliveries[consumer]
        found: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=delivery.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                event = json.loads(message["Body"])
                # moto's SQS target drops `account` from the event (its input template keeps only some envelope
                # fields); EventBridge always delivers it: the account of the queue, which is the bus's here.
                event.setdefault("account", delivery.account)
                found.append(event)
                self.sqs.delete_message(QueueUrl=delivery.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def put(self, source: str, detail_type: str, detail: dict[str, Any], resources: list[str]) -> None:
        """Put one event on the default bus, as the service `source` would."""
        response = self.events.put_events(
            Entries=[
                {
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=_json_default),
                    "Resources": resources,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents refused the {detail_type} event: {response['Entries']}")


def model_package_state_change(package: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """SageMaker's `Model Package State Change` (source aws.sagemaker), from a DescribeModelPackage response.

    AWS documents the detail as the package's description (group, version, ARN, approval status, inference
    specification, metrics, ...), times in epoch milliseconds.
    """
    detail = {key: value for key, value in package.items() if key != "ResponseMetadata"}
    return "aws.sagemaker", detail, [package["ModelPackageArn"]]


def alarm_state_change(alarm: dict[str, Any], previous: str) -> tuple[str, dict[str, Any], list[str]]:
    """CloudWatch's `CloudWatch Alarm State Change` (source aws.cloudwatch), from a DescribeAlarms entry."""
    dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    detail = {
        "alarmName": alarm["AlarmName"],
        "state": {
            "value": alarm["StateValue"],
            "reason": alarm.get("StateReason", ""),
            "reasonData": alarm.get("StateReasonData", "{}"),
            "timestamp": _cloudwatch_time(alarm.get("StateUpdatedTimestamp") or datetime.now(UTC)),
        },
        "previousState": {"value": previous, "reason": "", "timestamp": None},
        "configuration": {
            "description": alarm.get("AlarmDescription", ""),
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": alarm["Namespace"],
                            "name": alarm["MetricName"],
                            "dimensions": dimensions,
                        },
                        "period": alarm["Period"],
                        "stat": alarm["Statistic"],
                    },
                    "returnData": True,
                }
            ],
        },
    }
    return "aws.cloudwatch", detail, [alarm["AlarmArn"]]


def _cloudwatch_time(moment: datetime) -> str:
    """CloudWatch's event timestamps: `2019-10-02T17:04:40.985+0000`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
