"""The names the local twin uses, read from one environment's synthesized stage (never written down twice).

`synthesize` builds the stage in-process exactly as `make synth` does (same config, feature flags and cdk-nag),
but for one environment only, into a cdk.out-style folder. `StageTemplates` reads that folder back: bucket,
pipeline, table, topic and alarm names, each Lambda function's environment variables and each EventBridge rule's
pattern and targets, with CloudFormation's intrinsics (`Ref`, `Fn::Join`, `Fn::GetAtt ... Arn`, pseudo
parameters) resolved to what they become in the twin's account and region: the "CDK token -> moto name" map.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TWIN_ACCOUNT = "123456789012"  # moto's default account; dev leaves `account` empty, so it deploys into "yours"

# The resource property that holds the physical name CloudFormation gives each named resource type; `Ref` of
# these returns that name (or, for a state machine, its ARN).
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SageMaker::Pipeline": "PipelineName",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::SSM::Parameter": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::Events::Rule": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
}
# ARN of a named resource, as `Fn::GetAtt X.Arn` (or `Ref` of a state machine or topic) gives it.
_ARN_FORMAT = {
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::CloudWatch::Alarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
}
_REF_IS_ARN = {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::SQS::Queue"}


class TemplateError(RuntimeError):
    """The synthesized stage lacks something the twin needs, or uses an intrinsic the twin cannot resolve."""


def synthesize(environment: str, outdir: Path) -> Path:
    """Synthesize the one stage `environment` into `outdir` (cdk.out layout) and return `outdir`."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    from app import create_app  # imports aws_cdk (starts jsii's node process): only when asked to synthesize
    from config import load_config

    config = load_config(os.environ.get("MLOPS_CONFIG") or ROOT / "config" / "environments.yaml")
    only = config.model_copy(update={"environments": {environment: config.environment(environment)}})
    create_app(only, outdir=str(outdir)).synth()
    return outdir


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]


class StageTemplates:
    """The templates of one synthesized stage, with intrinsics resolved for `account` and `region`."""

    def __init__(self, assembly_dir: Path, environment: str, *, account: str = TWIN_ACCOUNT, region: str) -> None:
        self.account, self.region = account, region
        self.resources: dict[str, Resource] = {}
        stage_dir = _stage_dir(assembly_dir, environment)
        manifest = json.loads((stage_dir / "manifest.json").read_text())
        for name, artifact in manifest["artifacts"].items():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            template = json.loads((stage_dir / artifact["properties"]["templateFile"]).read_text())
            for logical_id, body in template.get("Resources", {}).items():
                self.resources[logical_id] = Resource(name, logical_id, body["Type"], body.get("Properties", {}))

    @property
    def dataset(self) -> str:
        """The stage's data set (its config's `dataset`): the curated Glue table is named after it."""
        tables = [r.properties["TableInput"]["Name"] for r in self.of_type("AWS::Glue::Table")]
        if len(tables) != 1:
            raise TemplateError(f"the stage has {len(tables)} Glue tables, expected the curated data set's one")
        return str(tables[0])

    # ------------------------------------------------------------ lookups

    def of_type(self, resource_type: str) -> Iterator[Resource]:
        return (r for r in self.resources.values() if r.type == resource_type)

    def named(self, resource_type: str, name: str) -> Resource:
        """The resource of `resource_type` whose resolved physical name is `name`."""
        for resource in self.of_type(resource_type):
            if self.physical_name(resource) == name:
                return resource
        raise TemplateError(f"the stage has no {resource_type} named {name!r}")

    def names(self, resource_type: str) -> list[str]:
        return [self.physical_name(r) for r in self.of_type(resource_type)]

    def physical_name(self, resource: Resource) -> str:
        prop = _NAME_PROPERTY.get(resource.type)
        if prop is None or prop not in resource.properties:
            # CloudFormation would generate a name; the twin makes a stable one of the same kind.
            return f"{resource.stack}-{resource.logical_id}"[:63].lower()
        return str(self.resolve(resource.properties[prop]))

    def arn(self, resource: Resource) -> str:
        fmt = _ARN_FORMAT.get(resource.type)
        if fmt is None:
            raise TemplateError(f"no ARN format for {resource.type} ({resource.logical_id})")
        return fmt.format(name=self.physical_name(resource), region=self.region, account=self.account)

    def bucket(self, zone: str) -> str:
        """The lake's `zone` bucket (raw, curated, features, artifacts)."""
        matches = [n for n in self.names("AWS::S3::Bucket") if f"-{zone}-" in n]
        if len(matches) != 1:
            raise TemplateError(f"expected one {zone} bucket in the stage, found {matches}")
        return matches[0]

    def function_environment(self, function_name: str) -> dict[str, str]:
        """The environment variables the synthesized Lambda function `function_name` is deployed with."""
        function = self.named("AWS::Lambda::Function", function_name)
        variables = function.properties.get("Environment", {}).get("Variables", {})
        return {key: str(self.resolve(value)) for key, value in variables.items()}

    def rules_targeting(self, target_arn: str) -> list[dict[str, Any]]:
        """The resolved EventPattern of every rule with a target whose ARN is `target_arn`."""
        patterns = []
        for rule in self.of_type("AWS::Events::Rule"):
            targets = [self.resolve(t["Arn"]) for t in rule.properties.get("Targets", [])]
            if target_arn in targets:
                patterns.append(self.resolve(rule.properties["EventPattern"]))
        if not patterns:
            raise TemplateError(f"no EventBridge rule of the stage targets {target_arn}")
        return patterns

    def rule_target(self, rule: Resource, target_arn: str) -> dict[str, Any]:
        for target in rule.properties.get("Targets", []):
            if self.resolve(target["Arn"]) == target_arn:
                return dict(self.resolve(target))
        raise TemplateError(f"rule {rule.logical_id} has no target {target_arn}")

    # ------------------------------------------------------------ intrinsics

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by what CloudFormation would put there."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(part)) for part in parts)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._get_att(logical_id, attribute)
            if key.startswith("Fn::"):
                raise TemplateError(f"the twin does not resolve {key} (in {json.dumps(value)[:200]})")
        return {key: self.resolve(item) for key, item in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        resource = self._resource(name)
        return self.arn(resource) if resource.type in _REF_IS_ARN else self.physical_name(resource)

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource = self._resource(logical_id)
        if attribute == "Arn":
            return self.arn(resource)
        if attribute in ("Name", "QueueName", "TopicName"):
            return self.physical_name(resource)
        raise TemplateError(f"the twin does not resolve Fn::GetAtt {logical_id}.{attribute}")

    def _resource(self, logical_id: str) -> Resource:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(
                f"no resource {logical_id!r} in the stage (cross-stack imports are not resolved)"
            ) from None


def stack_template(assembly_dir: Path, environment: str, stack_id: str) -> dict[str, Any]:
    """The template of the stack `<environment>/<stack_id>` (e.g. "dev/Operations") in a synthesized assembly.

    Parsed once per file version and shared by every caller (a test session builds a promotion from the same
    template dozens of times): read it, do not change it."""
    stage_dir = _stage_dir(assembly_dir, environment)
    manifest = json.loads((stage_dir / "manifest.json").read_text())
    for artifact in manifest["artifacts"].values():
        if (
            artifact["type"] == "aws:cloudformation:stack"
            and artifact.get("displayName") == f"{environment}/{stack_id}"
        ):
            path = stage_dir / artifact["properties"]["templateFile"]
            status = path.stat()
            return _parsed_template(str(path), status.st_mtime_ns, status.st_size)
    raise TemplateError(f"no stack {environment}/{stack_id} in the cloud assembly {assembly_dir}")


@functools.lru_cache(maxsize=32)
def _parsed_template(path: str, mtime_ns: int, size: int) -> dict[str, Any]:  # the file's version is in the key
    return dict(json.loads(Path(path).read_text()))


def _stage_dir(assembly_dir: Path, environment: str) -> Path:
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    for artifact in manifest["artifacts"].values():
        if artifact["type"] == "cdk:cloud-assembly" and artifact["properties"].get("displayName") == environment:
            return Path(assembly_dir / str(artifact["properties"]["directoryName"]))
    raise TemplateError(f"{assembly_dir} holds no stage {environment!r}")
