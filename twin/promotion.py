"""The synthesized promotion state machine, executed on moto: a local twin of `<prefix>-promotion`.

Input is a cloud assembly as `cdk synth` writes it (`cdk.out/`, or the `outdir` of `app.synth()`): the stage's
`Operations` stack template holds the state machine as an `Fn::Join` of JSON text and CloudFormation references.
Each reference is replaced by a moto resource made for it (the endpoint role, the smoke-test function with its
synthesized environment, the alert topic, a KMS key for the lake key output, made-up ids for a VPC environment's
subnets and groups), or by `names[...]` where given, keyed `Ref:<LogicalId>`, `GetAtt:<LogicalId>.<Attr>` or
`Output:<OutputName>`. Every Wait state waits
`poll_seconds` instead of its synthesized time. The buckets the S3 tasks write to are created.

The smoke-test Lambda runs `lambdas/smoke_test/handler.run` in-process against the same moto (see
`twin.moto_patches.register_lambda`); what the endpoint answers is `twin.moto_patches.set_model_behaviour`.

With a moto server, `clients` are boto3 clients with its `endpoint_url`: this module switches execution on in its
config and points moto's Step Functions interpreter at its port (the `MOTO_PORT` variable it reads). In-process
(`mock_aws`), pass `config=twin.moto_patches.local_step_functions_config()` to `mock_aws` yourself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

from twin.assembly import stack_template
from twin.moto_patches import (
    STAND_IN_KEY,
    enable_local_step_functions,
    local_step_functions_config,
    register_lambda,
)

ROOT = Path(__file__).resolve().parents[1]
_FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class TwinError(Exception):
    """The assembly cannot be turned into a local state machine (a missing stack, an unknown reference...)."""


def _promotion_resource(template: dict[str, Any], kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    found = [(key, r) for key, r in template["Resources"].items() if r["Type"] == kind and key.startswith(prefix)]
    if len(found) != 1:
        raise TwinError(f"expected one {kind} named {prefix}*, found {[key for key, _ in found]}")
    return found[0]


class LocalPromotion:
    """One promotion state machine on moto. Build it with `from_cloud_assembly` (or `from_template`)."""

    def __init__(
        self, clients: dict[str, Any], state_machine_arn: str, endpoint_name: str, definition: dict[str, Any]
    ) -> None:
        self._sfn = clients["stepfunctions"]
        self.clients = clients
        self.state_machine_arn = state_machine_arn
        self.endpoint_name = endpoint_name
        self.definition = definition  # as created on moto: references resolved, Waits shortened
        self.buckets = sorted(_buckets(definition))

    @classmethod
    def from_cloud_assembly(
        cls,
        assembly_dir: Path,
        environment: str,
        *,
        clients: dict[str, Any],
        names: dict[str, str] | None = None,
        poll_seconds: float = 0,
    ) -> LocalPromotion:
        """`clients`: boto3 clients on moto for stepfunctions, sagemaker, sagemaker-runtime, s3, iam, sns,
        lambda, kms, sts, ssm, dynamodb, cloudwatch and application-autoscaling (all in one region and one
        account: the environment's, see `twin.moto_patches.account_clients`)."""
        return cls.from_template(
            stack_template(assembly_dir, environment, "Operations"),
            clients=clients,
            names=names,
            poll_seconds=poll_seconds,
        )

    @classmethod
    def from_template(
        cls,
        template: dict[str, Any],
        *,
        clients: dict[str, Any],
        names: dict[str, str] | None = None,
        poll_seconds: float = 0,
    ) -> LocalPromotion:
        enable_local_step_functions()
        _configure_server(clients["stepfunctions"])
        resolver = _Resolver(template, clients, dict(names or {}))
        key, machine = _promotion_resource(template, "AWS::StepFunctions::StateMachine", "ModelPromotion")
        definition = json.loads(resolver.render(machine["Properties"]["DefinitionString"]))
        for state in _all_states(definition):
            if state["Type"] == "Wait":
                state.pop("Timestamp", None)
                state["Seconds"] = poll_seconds
        for bucket in sorted(_buckets(definition)):
            _create_bucket(clients["s3"], bucket)
        smoke_key, smoke = _promotion_resource(template, "AWS::Lambda::Function", "ModelPromotionSmokeTestFunction")
        register_lambda(resolver.lambda_arn(smoke_key), _run_smoke_test(clients))
        checks_key, _ = _promotion_resource(template, "AWS::Lambda::Function", "ModelPromotionChecksFunction")
        register_lambda(resolver.lambda_arn(checks_key), _run_checks(clients))
        arn = clients["stepfunctions"].create_state_machine(
            name=machine["Properties"]["StateMachineName"],
            definition=json.dumps(definition),
            roleArn=resolver.role(f"{key}Role"),
        )["stateMachineArn"]
        endpoint = smoke["Properties"]["Environment"]["Variables"]["ENDPOINT_NAME"]
        return cls(clients, arn, endpoint, definition)

    # ------------------------------------------------------------------------------------------- executions

    def start(self, package_arn: str, *, name: str | None = None, event_id: str | None = None) -> str:
        """Start an execution with the event EventBridge delivers for an approved package (`event_id`: the
        event's id; SageMaker may send one state change twice, with different ids). Always named (moto names an
        unnamed execution `None`)."""
        package = self.clients["sagemaker"].describe_model_package(ModelPackageName=package_arn)
        region = self._sfn.meta.region_name
        event = {
            "version": "0",
            "id": event_id or str(uuid.uuid4()),
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": package_arn.split(":")[4],
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [package_arn],
            "detail": {
                "ModelPackageGroupName": package["ModelPackageGroupName"],
                "ModelPackageVersion": package["ModelPackageVersion"],
                "ModelPackageArn": package_arn,
                "CreationTime": int(package["CreationTime"].timestamp() * 1000),
                "LastModifiedTime": int(package.get("LastModifiedTime", package["CreationTime"]).timestamp() * 1000),
                "ModelApprovalStatus": package["ModelApprovalStatus"],
            },
        }
        started = self._sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name or f"promotion-{uuid.uuid4().hex[:12]}",
            input=json.dumps(event),
        )  # fmt: skip
        return str(started["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        """describe_execution once the execution has finished; TimeoutError naming the last state otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            described = dict(self._sfn.describe_execution(executionArn=execution_arn))
            if described["status"] in _FINISHED:
                return described
            if time.monotonic() > deadline:
                entered = [e for e in self.history(execution_arn) if e["type"].endswith("StateEntered")]
                last = entered[-1]["stateEnteredEventDetails"]["name"] if entered else "none"
                raise TimeoutError(f"{execution_arn} still {described['status']} after {timeout} s (in {last})")
            time.sleep(0.05)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for page in self._sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    def states_entered(self, execution_arn: str) -> list[str]:
        """The names of the states the execution entered, in order."""
        return [
            e["stateEnteredEventDetails"]["name"] for e in self.history(execution_arn) if e["type"].endswith("Entered")
        ]

    def task_token(self, execution_arn: str, timeout: float = 30) -> str:
        """The task token of the execution's `.waitForTaskToken` task, once it is scheduled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.history(execution_arn):
                if event["type"] == "TaskScheduled":
                    parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
                    token = _find_token(parameters)
                    if token:
                        return token
            time.sleep(0.05)
        raise TimeoutError(f"{execution_arn} scheduled no task with a task token within {timeout} s")


def _find_token(parameters: dict[str, Any]) -> str | None:
    """The token as the WaitForApproval message carries it (`--task-token "<token>"`)."""
    message = str(parameters.get("Message", ""))
    marker = '--task-token "'
    if marker not in message:
        return None
    return message.split(marker, 1)[1].split('"', 1)[0]


def _run_smoke_test(clients: dict[str, Any]) -> Any:
    from lambdas.smoke_test import handler

    def run(event: dict[str, Any], environment: dict[str, str]) -> dict[str, Any]:
        return handler.run(
            str(event["evaluation_uri"]),
            endpoint_name=environment["ENDPOINT_NAME"],
            rows=int(environment["SMOKE_TEST_ROWS"]),
            s3=clients["s3"],
            runtime=clients["sagemaker-runtime"],
        )

    return run


def _run_checks(clients: dict[str, Any]) -> Any:
    from lambdas.promotion_checks import handler

    def run(event: dict[str, Any], environment: dict[str, str]) -> dict[str, Any]:
        return handler.run(event, s3=clients["s3"])

    return run


def _configure_server(sfn: Any) -> None:
    url = sfn.meta.endpoint_url
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        return  # in-process mock_aws: its config comes from the caller
    requests.post(f"{url}/moto-api/config", json=local_step_functions_config(), timeout=10).raise_for_status()
    # moto's interpreter sends its aws-sdk calls to http://localhost:$MOTO_PORT (default 5000)
    os.environ["MOTO_PORT"] = str(parsed.port)


def _all_states(definition: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for state in definition.get("States", {}).values():
        found.append(state)
        for nested in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if nested:
                found.extend(_all_states(nested))
    return found


def _buckets(definition: dict[str, Any]) -> set[str]:
    return {
        state["Arguments"]["Bucket"]
        for state in _all_states(definition)
        if str(state.get("Resource", "")).startswith("arn:aws:states:::aws-sdk:s3:")
        and not str(state["Arguments"].get("Bucket", "{%")).startswith("{%")
    }


def _create_bucket(s3: Any, bucket: str) -> None:
    region = s3.meta.region_name
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket, **where)


class _Resolver:
    """CloudFormation references of the template, each replaced by a value on moto (made once)."""

    def __init__(self, template: dict[str, Any], clients: dict[str, Any], names: dict[str, str]) -> None:
        self._template = template
        self._clients = clients
        self._values = names
        self._region = clients["stepfunctions"].meta.region_name
        self._account = str(clients["sts"].get_caller_identity()["Account"])

    def render(self, node: Any) -> str:
        if isinstance(node, str):
            return node
        if "Fn::Join" in node:
            separator, parts = node["Fn::Join"]
            return str(separator).join(self.render(part) for part in parts)
        if "Ref" in node:
            return self._ref(node["Ref"])
        if "Fn::GetAtt" in node:
            return self._get_att(*node["Fn::GetAtt"])
        if "Fn::GetStackOutput" in node:
            return self._output(node["Fn::GetStackOutput"]["OutputName"])
        raise TwinError(f"unsupported CloudFormation function in the definition: {json.dumps(node)[:200]}")

    def _ref(self, logical_id: str) -> str:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": self._region, "AWS::AccountId": self._account}
        if logical_id in pseudo:
            return str(pseudo[logical_id])
        key = f"Ref:{logical_id}"
        if key not in self._values:
            resource = self._template["Resources"][logical_id]
            kind = resource["Type"]
            if kind == "AWS::SNS::Topic":
                self._values[key] = self._clients["sns"].create_topic(Name=logical_id)["TopicArn"]
            elif kind == "AWS::DynamoDB::Table":
                self._values[key] = self._table(resource["Properties"])
            else:
                raise TwinError(f"no local stand-in for Ref {logical_id} ({kind}): pass names[{key!r}]")
        return str(self._values[key])

    def _get_att(self, logical_id: str, attribute: str) -> str:
        key = f"GetAtt:{logical_id}.{attribute}"
        if key not in self._values:
            kind = self._template["Resources"][logical_id]["Type"]
            if (kind, attribute) == ("AWS::IAM::Role", "Arn"):
                self._values[key] = self.role(logical_id)
            elif (kind, attribute) == ("AWS::Lambda::Function", "Arn"):
                self._values[key] = self._function(logical_id)
            else:
                raise TwinError(f"no local stand-in for {key} ({kind}): pass names[{key!r}]")
        return self._values[key]

    def _output(self, output: str) -> str:
        key = f"Output:{output}"
        if key not in self._values:
            if "Network" in output and ("Subnet" in output or "SecurityGroup" in output):
                # A VPC environment's subnets and groups (the stateful stack's): ids only, moto has no network.
                prefix = "subnet" if "Subnet" in output else "sg"
                self._values[key] = f"{prefix}-{hashlib.sha256(output.encode()).hexdigest()[:17]}"
            elif "Key" in output:
                self._values[key] = self._clients["kms"].create_key(Description=STAND_IN_KEY + output)["KeyMetadata"][
                    "Arn"
                ]
            else:
                raise TwinError(f"no local stand-in for the stack output {output}: pass names[{key!r}]")
        return self._values[key]

    def _table(self, properties: dict[str, Any]) -> str:
        """The table with its synthesized name and keys (on demand; no KMS, no TTL: moto does not need them)."""
        name = str(properties["TableName"])
        self._clients["dynamodb"].create_table(
            TableName=name,
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        return name

    def role(self, logical_id: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        name = logical_id[-64:]
        try:
            return str(
                self._clients["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
                    "Arn"
                ]
            )
        except self._clients["iam"].exceptions.EntityAlreadyExistsException:
            return str(self._clients["iam"].get_role(RoleName=name)["Role"]["Arn"])

    def lambda_name(self, logical_id: str) -> str:
        return self._get_att(logical_id, "Arn").split(":")[6]

    def lambda_arn(self, logical_id: str) -> str:
        return self._get_att(logical_id, "Arn")

    def _function(self, logical_id: str) -> str:
        properties = self._template["Resources"][logical_id]["Properties"]
        variables = properties.get("Environment", {}).get("Variables", {})
        created = self._clients["lambda"].create_function(
            FunctionName=logical_id[:64],
            Runtime=properties["Runtime"],
            Role=self.role(f"{logical_id}Role"),
            Handler=properties["Handler"],
            Code={"ZipFile": _empty_zip()},
            Environment={"Variables": {key: self.render(value) for key, value in variables.items()}},
        )
        return str(created["FunctionArn"])


def _empty_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "# runs in-process: twin.moto_patches.register_lambda\n")
    return buffer.getvalue()
