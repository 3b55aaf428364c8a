"""Private networking and function hardening of one environment: `network` and `functions`.

`network.mode` says where the platform's compute runs: on AWS's shared network (`none`), in a VPC the platform
creates (`create`) or in one that exists already, given by id (`import`; synth never looks anything up).
`INTERFACE_ENDPOINTS` is the catalog of the interface endpoints the platform knows, each with what reaches it
from inside the VPC; the ones something reaches are required, so a trimmed list cannot cut a job off silently.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field, model_validator

from config.section import Section
from config.values import Rule

NetworkMode = Literal["none", "create", "import"]
EndpointName = Literal[
    "sagemaker-api",
    "sagemaker-runtime",
    "sagemaker-featurestore-runtime",
    "sagemaker-experiments",
    "sts",
    "monitoring",
    "logs",
    "ecr-api",
    "ecr-dkr",
    "events",
    "ssm",
    "secretsmanager",
    "kms",
    "states",
    "xray",
]


@dataclass(frozen=True)
class EndpointUse:
    """Who calls the service from inside the VPC (empty: nothing does today, the endpoint is optional)."""

    callers: str = ""
    needs_tracking: bool = False  # required only where experiment_tracking is enabled


# Every interface endpoint the platform knows; the service names are com.amazonaws.<region>.<name>, except MLflow's
# (aws.sagemaker.<region>.experiments). S3 and DynamoDB are reached through gateway endpoints, always created.
INTERFACE_ENDPOINTS: dict[str, EndpointUse] = {
    "sagemaker-api": EndpointUse(
        "the retraining functions (StartPipelineExecution), ResolveModel (CreateModel), GatherMonitoringInputs "
        "(DescribeModelPackage)"
    ),
    "sagemaker-runtime": EndpointUse("the promotion's smoke test (InvokeEndpoint)"),
    "sagemaker-featurestore-runtime": EndpointUse("IngestFeatures (BatchGetRecord, PutRecord)"),
    "sagemaker-experiments": EndpointUse(
        "TrainModel or TuneModel, EvaluateModel and CheckBiasAndExplain (MLflow logging)", needs_tracking=True
    ),
    "monitoring": EndpointUse("CheckDrift (PutMetricData)"),
    "events": EndpointUse("CheckDrift (PutEvents)"),
    "ssm": EndpointUse("GatherMonitoringInputs (GetParameter)"),
    "sts": EndpointUse(),
    "logs": EndpointUse(),
    "ecr-api": EndpointUse(),
    "ecr-dkr": EndpointUse(),
    "secretsmanager": EndpointUse(),
    "kms": EndpointUse(),
    "states": EndpointUse(),
    "xray": EndpointUse(),
}
assert set(INTERFACE_ENDPOINTS) == set(get_args(EndpointName))


def required_endpoints(*, experiment_tracking: bool) -> list[str]:
    """The interface endpoints something inside the VPC calls, in catalog order."""
    return [
        name
        for name, use in INTERFACE_ENDPOINTS.items()
        if use.callers and (experiment_tracking or not use.needs_tracking)
    ]


def _cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"must be an IPv4 network in CIDR notation, e.g. '10.40.0.0/16' ({exc})") from None
    if not 16 <= network.prefixlen <= 22:
        raise ValueError("the prefix must be /16 to /22: room for one subnet per availability zone and tier")
    if not network.is_private:
        raise ValueError("must be a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)")
    return value


def _resource_id(kind: str, prefix: str) -> AfterValidator:
    def check(value: str) -> str:
        rest = value.removeprefix(f"{prefix}-")
        if rest == value or not (len(rest) in (8, 17) and all(c in "0123456789abcdef" for c in rest)):
            raise ValueError(
                f"must be a {kind} id like '{prefix}-0123456789abcdef0', not a name: synth looks nothing up in AWS"
            )
        return value

    return AfterValidator(check)


Cidr = Annotated[str, AfterValidator(_cidr), Rule("an IPv4 private range, /16 to /22, e.g. `10.40.0.0/16`")]
VpcId = Annotated[str, _resource_id("VPC", "vpc"), Rule("`vpc-` and 8 or 17 hex digits")]
SubnetId = Annotated[str, _resource_id("subnet", "subnet"), Rule("`subnet-` and 8 or 17 hex digits")]
SecurityGroupId = Annotated[str, _resource_id("security group", "sg"), Rule("`sg-` and 8 or 17 hex digits")]


class NetworkSettings(Section):
    """Where the platform's compute runs: processing, training, tuning and transform jobs, endpoints, functions."""

    mode: NetworkMode = Field(
        description="none: on AWS's shared network (no VPC; the only mode serverless endpoints support). create: "
        "a VPC the platform creates, private subnets, VPC endpoints, flow logs. import: an existing VPC and "
        "subnets given by id below (the VPC must already provide the interface_endpoints, with private DNS)."
    )
    availability_zones: Annotated[int, Field(ge=1, le=6)] = Field(
        description="create: availability zones the VPC spans, one subnet per zone and tier (at least 2). Each "
        "interface endpoint is billed per zone per hour (README, 'What it costs')."
    )
    cidr: Cidr = Field(description="create: the VPC's address range.")
    subnet_type: Literal["isolated", "private-with-egress"] = Field(
        description="create: isolated subnets reach AWS only through the VPC endpoints (no route to the internet); "
        "private-with-egress adds public subnets with NAT gateways, for code that needs the internet (needs "
        "nat_gateways >= 1)."
    )
    nat_gateways: Annotated[int, Field(ge=0, le=6)] = Field(
        description="create: NAT gateways (at most one per availability zone); 0 with isolated subnets. Each is "
        "billed per hour and per GB processed."
    )
    flow_logs_traffic: Literal["ALL", "ACCEPT", "REJECT"] = Field(
        description="create: which traffic the VPC flow logs record, to a log group encrypted with the lake key "
        "(kept log_retention_days)."
    )
    interface_endpoints: list[EndpointName] = Field(
        description="The interface endpoints of the environment (create: created in every zone, private DNS on, "
        "policy limited to the environment's account; import: the VPC must provide them). Those something calls "
        "from inside are required: sagemaker-api, sagemaker-runtime, sagemaker-featurestore-runtime, monitoring, "
        "events, ssm, and sagemaker-experiments with experiment tracking. S3 and DynamoDB gateway endpoints "
        "(free) are always created."
    )
    require_vpc_endpoint_for_s3: bool = Field(
        description="create: the zone buckets' policies also deny object reads and writes that arrive neither "
        "through this VPC's S3 endpoint nor from the platform's own roles, the CDK deploy roles, the consumers' "
        "platform roles or an AWS service; people then reach the data only from inside the VPC."
    )
    vpc_id: VpcId | None = Field(
        description="import: the id of the existing VPC (required there): the security groups are created in it."
    )
    subnet_ids: list[SubnetId] = Field(
        description="import: ids of the private subnets the jobs, endpoints and functions run in (at least one; "
        "two or more in different zones for availability)."
    )
    security_group_ids: list[SecurityGroupId] = Field(
        description="import, optional: ids of existing security groups to attach instead of the ones the platform "
        "creates (empty: the platform creates least-privilege groups in vpc_id)."
    )

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    @model_validator(mode="after")
    def _mode_has_what_it_needs(self) -> NetworkSettings:
        """create needs availability_zones >= 2 and no NAT with isolated subnets (and a NAT for
        private-with-egress); import needs vpc_id and subnet_ids; ids and require_vpc_endpoint_for_s3 belong to
        the mode that uses them."""
        problems = []
        if self.mode == "create":
            if self.availability_zones < 2:
                problems.append(
                    f"availability_zones {self.availability_zones}: create needs at least 2, so that a zone's "
                    "outage leaves jobs, the endpoint and the VPC endpoints running in another"
                )
            if self.subnet_type == "isolated" and self.nat_gateways:
                problems.append(
                    f"nat_gateways {self.nat_gateways} with subnet_type 'isolated': isolated subnets have no route "
                    "to a NAT gateway; use subnet_type 'private-with-egress' or nat_gateways 0"
                )
            if self.subnet_type == "private-with-egress" and not self.nat_gateways:
                problems.append(
                    "subnet_type 'private-with-egress' needs nat_gateways >= 1: without one the subnets have no "
                    "egress (use subnet_type 'isolated')"
                )
            if self.nat_gateways > self.availability_zones:
                problems.append(
                    f"nat_gateways {self.nat_gateways} exceeds availability_zones {self.availability_zones}: at "
                    "most one NAT gateway per zone"
                )
        if self.mode == "import":
            if not self.subnet_ids:
                problems.append(
                    "import needs subnet_ids: the ids of the private subnets the jobs, endpoints and functions run "
                    "in (synth looks nothing up)"
                )
            if self.vpc_id is None:
                problems.append("import needs vpc_id: the VPC the subnets belong to (security groups live in it)")
        elif self.vpc_id or self.subnet_ids or self.security_group_ids:
            problems.append(
                f"vpc_id, subnet_ids and security_group_ids are for mode 'import', not '{self.mode}': remove them"
            )
        if self.require_vpc_endpoint_for_s3 and self.mode != "create":
            problems.append(
                f"require_vpc_endpoint_for_s3 needs mode 'create' (the policy names the S3 endpoint the platform "
                f"creates), not '{self.mode}'"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ReservedConcurrency(Section):
    """Concurrent executions reserved for each function: a ceiling on what it can cost and on what it can take
    from the account's pool (the account keeps at least 100 unreserved; new accounts may have a lower limit)."""

    retrain_on_drift: Annotated[int, Field(ge=1, le=1000)] = Field(
        description="The drift trigger (EventBridge, asynchronous): 1-2 suffice, a run starts at most once per "
        "cooldown."
    )
    retrain_on_new_data: Annotated[int, Field(ge=1, le=1000)] = Field(
        description="The new-data trigger (one invocation per object landed in the raw zone): higher if many files "
        "land at once (throttled events are retried by EventBridge, then go to the dead-letter queue)."
    )
    retrain_on_schedule: Annotated[int, Field(ge=1, le=1000)] = Field(
        description="The scheduled trigger (EventBridge Scheduler, asynchronous)."
    )
    promotion_checks: Annotated[int, Field(ge=1, le=1000)] = Field(
        description="The promotion's checks (digest, champion/challenger), invoked synchronously by the state machine."
    )
    smoke_test: Annotated[int, Field(ge=1, le=1000)] = Field(
        description="The promotion's smoke test, invoked synchronously by the state machine."
    )


class FunctionSettings(Section):
    """The platform's Lambda functions."""

    reserved_concurrency: ReservedConcurrency = Field(description="Reserved concurrency per function.")
