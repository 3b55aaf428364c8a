"""Private networking of one environment (`network.mode` create or import): subnets, security groups, endpoints.

`create` builds a VPC over `availability_zones` zones with private subnets (isolated, or with NAT gateways where
`subnet_type` is private-with-egress), flow logs to a log group under the lake key, the S3 and DynamoDB gateway
endpoints on every private route table and the configured interface endpoints (private DNS, a security group that
admits HTTPS only from the platform's groups, a policy that admits only principals of the environment's account).
`import` takes an existing VPC and subnets by id (nothing is looked up at synth) and creates the security groups
unless some are given. Either way `NetworkRefs` is what the other stacks use: the subnet ids and the groups of the
SageMaker jobs and models and of the functions. `place_function` puts a Lambda function in the subnets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from config import ConfigError, NetworkSettings
from naming import ResourceNames
from pipeline_definition.contract import PLACEHOLDERS
from stacks.units.compliance import acknowledge, acknowledge_grant_policy, justify_deploy_time_function, justify_scan

HTTPS = 443

# config names -> CDK services (com.amazonaws.<region>.<name>, MLflow's aws.sagemaker.<region>.experiments)
_SERVICES: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "sagemaker-api": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "sagemaker-runtime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "sagemaker-featurestore-runtime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_FEATURESTORE_RUNTIME,
    "sagemaker-experiments": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_EXPERIMENTS,
    "sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "ecr-api": ec2.InterfaceVpcEndpointAwsService.ECR,
    "ecr-dkr": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "events": ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
    "ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
    "secretsmanager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "states": ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    "xray": ec2.InterfaceVpcEndpointAwsService.XRAY,
}

# What Lambda needs to attach a function to the subnets (the managed AWSLambdaVPCAccessExecutionRole's actions).
_FUNCTION_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
# What SageMaker needs, as the job's or model's execution role, to put its network interfaces in the subnets.
_SAGEMAKER_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
]
# The SageMaker calls that start compute; IAM's sagemaker:VpcSubnets / sagemaker:VpcSecurityGroupIds describe them.
_SAGEMAKER_VPC_ACTIONS = [
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateModel",
]


@dataclass(frozen=True)
class NetworkRefs:
    """What the stacks that compute use of the network (tokens of the stateful stack where it created them)."""

    subnet_ids: list[str]
    jobs_security_group_ids: list[str]  # SageMaker jobs, models (endpoints, transforms), monitoring schedules
    functions_security_group_ids: list[str]  # Lambda functions


class PrivateNetwork(Construct):
    """The environment's VPC (create) or its imported subnets (import), its security groups and endpoints.

    Provides `refs` (`NetworkRefs`), `vpc` (create only), `s3_endpoint` (create only) and `endpoints` (the
    interface endpoints by config name, create only).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: NetworkSettings,
        names: ResourceNames,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        resource_accounts: Sequence[str] = (),
    ) -> None:
        """`resource_accounts`: other accounts whose buckets code inside the VPC reads (a promotion's source)."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self._names = names
        self.vpc: ec2.Vpc | None = None
        self.s3_endpoint: ec2.GatewayVpcEndpoint | None = None
        self.endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        if settings.mode == "create":
            self.vpc = self._vpc(settings, key, log_retention, removal_policy)
            vpc_id = self.vpc.vpc_id
            subnet_ids = [subnet.subnet_id for subnet in self.vpc.isolated_subnets or self.vpc.private_subnets]
        else:
            assert settings.vpc_id is not None  # the config requires it for import
            vpc_id, subnet_ids = settings.vpc_id, list(settings.subnet_ids)
        if settings.security_group_ids:
            jobs = functions = list(settings.security_group_ids)
        else:
            jobs = [self._jobs_group(vpc_id).attr_group_id]
            functions = [self._functions_group(vpc_id).attr_group_id]
        self.refs = NetworkRefs(
            subnet_ids=subnet_ids, jobs_security_group_ids=jobs, functions_security_group_ids=functions
        )
        if self.vpc is not None:
            self._gateway_endpoints(self.vpc, [stack.account, *resource_accounts])
            self._interface_endpoints(self.vpc, settings.interface_endpoints, [*jobs, *functions])

    # ------------------------------------------------------------------------------------------------ the VPC

    def _vpc(
        self, settings: NetworkSettings, key: kms.IKey, retention: logs.RetentionDays, removal: cdk.RemovalPolicy
    ) -> ec2.Vpc:
        private = (
            ec2.SubnetType.PRIVATE_ISOLATED
            if settings.subnet_type == "isolated"
            else ec2.SubnetType.PRIVATE_WITH_EGRESS
        )
        # The private subnets share what the small public ones (NAT only) leave of the range, evenly per zone.
        subnets = [ec2.SubnetConfiguration(name="private", subnet_type=private)]
        if settings.nat_gateways:
            subnets.append(ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=28))
        vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=self._names.prefix,
            ip_addresses=ec2.IpAddresses.cidr(settings.cidr),
            max_azs=settings.availability_zones,
            nat_gateways=settings.nat_gateways,
            subnet_configuration=subnets,
            # CDK removes the default security group's rules (a deploy-time custom resource): nothing may use it.
            restrict_default_security_group=True,
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", encryption_key=key, retention=retention, removal_policy=removal)
        role = iam.Role(
            self,
            "FlowLogsRole",
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            ),
            description=f"VPC Flow Logs of {self._names.prefix} write to their encrypted log group",
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs, role),
            traffic_type=ec2.FlowLogTrafficType[settings.flow_logs_traffic],
        )
        acknowledge_grant_policy(role)
        provider = cdk.Stack.of(self).node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        if provider is not None:
            _acknowledge_default_group_provider(provider)
        return vpc

    def _gateway_endpoints(self, vpc: ec2.Vpc, accounts: list[str]) -> None:
        """S3 and DynamoDB on every private route table; only principals of this account, only resources of this
        account (and of the accounts code here reads from), plus the bucket ECR keeps image layers in."""
        subnets = [ec2.SubnetSelection(subnets=vpc.isolated_subnets or vpc.private_subnets)]
        stack = cdk.Stack.of(self)
        self.s3_endpoint = vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=subnets)
        self.s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="EnvironmentOnly",
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:PrincipalAccount": stack.account, "aws:ResourceAccount": accounts}},
            )
        )
        self.s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="EcrImageLayers",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[f"arn:{stack.partition}:s3:::prod-{stack.region}-starport-layer-bucket/*"],
                conditions={"StringEquals": {"aws:PrincipalAccount": stack.account}},
            )
        )
        dynamodb = vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=subnets
        )
        dynamodb.add_to_policy(
            iam.PolicyStatement(
                sid="EnvironmentOnly",
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:PrincipalAccount": stack.account, "aws:ResourceAccount": stack.account}
                },
            )
        )

    def _interface_endpoints(self, vpc: ec2.Vpc, names: Sequence[str], client_groups: list[str]) -> None:
        group = ec2.CfnSecurityGroup(
            self,
            "EndpointsSecurityGroup",
            vpc_id=vpc.vpc_id,
            group_description=f"{self._names.prefix} VPC endpoints: HTTPS from the platform jobs and functions",
            security_group_egress=[_NO_EGRESS],
        )
        for index, client in enumerate(dict.fromkeys(client_groups)):
            ec2.CfnSecurityGroupIngress(
                self,
                f"EndpointsIngress{index}",
                group_id=group.attr_group_id,
                ip_protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                source_security_group_id=client,
                description="HTTPS from the platform jobs, models and functions",
            )
        endpoints_group = ec2.SecurityGroup.from_security_group_id(
            self, "EndpointsGroup", group.attr_group_id, allow_all_outbound=False, mutable=False
        )
        account = cdk.Stack.of(self).account
        for name in names:
            endpoint = vpc.add_interface_endpoint(
                _construct_id(name),
                service=_SERVICES[name],
                private_dns_enabled=True,
                security_groups=[endpoints_group],
                open=False,
                subnets=ec2.SubnetSelection(subnets=vpc.isolated_subnets or vpc.private_subnets),
            )
            endpoint.add_to_policy(
                iam.PolicyStatement(
                    sid="EnvironmentOnly",
                    principals=[iam.AnyPrincipal()],
                    actions=["*"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:PrincipalAccount": account}},
                )
            )
            self.endpoints[name] = endpoint

    # ------------------------------------------------------------------------------------- security groups

    def _jobs_group(self, vpc_id: str) -> ec2.CfnSecurityGroup:
        """SageMaker jobs and models: HTTPS out (the VPC endpoints, and S3 through its gateway), and any traffic
        between the instances of one job (distributed training and processing); nothing in from elsewhere."""
        group = ec2.CfnSecurityGroup(
            self,
            "JobsSecurityGroup",
            vpc_id=vpc_id,
            group_description=f"{self._names.prefix} SageMaker jobs and models: HTTPS out, traffic between their "
            "own instances",
            security_group_egress=[_HTTPS_OUT],
        )
        from_itself = ec2.CfnSecurityGroupIngress(
            self,
            "JobsIngressFromItself",
            group_id=group.attr_group_id,
            ip_protocol="-1",
            source_security_group_id=group.attr_group_id,
            description="Between the instances of one job (distributed training, processing)",
        )
        acknowledge(
            from_itself,
            "NIST.800.53.R5-EC2RestrictedCommonPorts",
            "All ports, but only from members of this same group: the instances of one distributed training or "
            "processing job talk on ports their framework picks at run time (MPI, NCCL, torchrun), as SageMaker "
            "requires of a VPC job's group; no address range is admitted.",
        )
        ec2.CfnSecurityGroupEgress(
            self,
            "JobsEgressToItself",
            group_id=group.attr_group_id,
            ip_protocol="-1",
            destination_security_group_id=group.attr_group_id,
            description="Between the instances of one job (distributed training, processing)",
        )
        return group

    def _functions_group(self, vpc_id: str) -> ec2.CfnSecurityGroup:
        return ec2.CfnSecurityGroup(
            self,
            "FunctionsSecurityGroup",
            vpc_id=vpc_id,
            group_description=f"{self._names.prefix} Lambda functions: HTTPS out only",
            security_group_egress=[_HTTPS_OUT],
        )


# HTTPS to anywhere: in isolated subnets the only routes out are the VPC endpoints (inside the VPC's range) and
# the S3 and DynamoDB gateways (AWS's public ranges, a managed prefix list whose id needs a lookup at synth); with
# NAT, the internet the team asked for.
_HTTPS_OUT = ec2.CfnSecurityGroup.EgressProperty(
    ip_protocol="tcp",
    from_port=HTTPS,
    to_port=HTTPS,
    cidr_ip="0.0.0.0/0",
    description="HTTPS only: the VPC endpoints, the S3 and DynamoDB gateways (and a NAT where configured)",
)
# CloudFormation adds an allow-all egress rule to a group that names none: this one matches no traffic.
_NO_EGRESS = ec2.CfnSecurityGroup.EgressProperty(
    ip_protocol="icmp",
    from_port=252,
    to_port=86,
    cidr_ip="255.255.255.255/32",
    description="No outbound traffic: endpoints only answer",
)


def _construct_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-")) + "Endpoint"


def _acknowledge_default_group_provider(provider: IConstruct) -> None:
    only_at_deploy = (
        "CDK's provider that empties the VPC's default security group runs only when CloudFormation deploys"
    )
    for rule, reason in {
        "AwsSolutions-IAM4": f"{only_at_deploy}; AWSLambdaBasicExecutionRole only lets it write logs.",
        "NIST.800.53.R5-LambdaConcurrency": f"{only_at_deploy}, once: no concurrency to reserve.",
        "NIST.800.53.R5-LambdaDLQ": f"{only_at_deploy}; a failure fails the deployment, which is its signal.",
        "NIST.800.53.R5-LambdaInsideVPC": f"{only_at_deploy} and calls the EC2 API, which the isolated subnets "
        "have no endpoint for; it handles no data.",
    }.items():
        acknowledge(provider, rule, reason)


# ----------------------------------------------------------------------------------------- placing compute


def place_function(function: lambda_.Function, role: iam.IRole, network: NetworkRefs | None) -> None:
    """Run `function` (whose execution role is `role`) in the network's subnets with the functions' group.

    Set on the CloudFormation resource: the L2 `vpc` property needs an `IVpc`, which an imported VPC given by id
    cannot be without a lookup. Lambda attaches the function with its role's permissions, so they exist first.
    """
    cfn = function.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    if network is None:
        justify_scan(
            cfn,
            "CKV_AWS_117",
            "The environment has no VPC (network.mode none, the shipped dev): the function calls AWS APIs over TLS "
            "with IAM; staging and prod run every function in their subnets.",
        )
        return
    cfn.vpc_config = lambda_.CfnFunction.VpcConfigProperty(
        subnet_ids=network.subnet_ids, security_group_ids=network.functions_security_group_ids
    )
    policy = iam.Policy(
        function,
        "VpcAccess",
        statements=[iam.PolicyStatement(actions=_FUNCTION_ENI_ACTIONS, resources=["*"])],
        roles=[role],
    )
    cfn.node.add_dependency(policy)  # the function resource only: the policy itself refers to the role
    acknowledge(
        policy,
        "AwsSolutions-IAM5",
        "Lambda creates, describes and deletes the function's network interfaces in its subnets with these EC2 "
        "actions; their interface ids are made at run time (the AWSLambdaVPCAccessExecutionRole actions).",
        finding="Resource::*",
    )
    acknowledge_grant_policy(policy)
    justify_scan(
        policy,
        "CKV_AWS_111",
        "Lambda's network-interface actions for a function in subnets (AWSLambdaVPCAccessExecutionRole's): the "
        "interfaces are made at run time, so no resource ARN exists to name; nothing else is granted here.",
    )


def harden_bucket_deployment(stack: cdk.Stack, key: kms.IKey, network: NetworkRefs | None) -> None:
    """aws-cdk-lib's BucketDeployment handler (one per stack), which copies CDK's assets into a zone, S3 to S3: in
    the subnets where the environment has some (through the S3 gateway endpoint), its variables under the lake
    key (its role decrypts with it already: the zone's grant includes the key)."""
    handler = next(c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment"))
    assert isinstance(handler, lambda_.Function)
    assert isinstance(handler.role, iam.Role)
    cfn = handler.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    cfn.kms_key_arn = key.key_arn
    place_function(handler, handler.role, network)
    justify_deploy_time_function(cfn)  # (and, without a VPC, place_function justified that)


def grant_sagemaker_network_interfaces(role: iam.Role) -> None:
    """What SageMaker needs of the execution role of jobs and models that run in subnets: their interfaces."""
    role.add_to_policy(
        iam.PolicyStatement(sid="SageMakerNetworkInterfaces", actions=_SAGEMAKER_ENI_ACTIONS, resources=["*"])
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "SageMaker creates, describes and deletes the network interfaces of the role's jobs and models in the "
        "environment's subnets with these EC2 actions, on interfaces made at run time (Describe* have no resource "
        "type); where the role also starts compute, Deny statements keep it in the subnets.",
        finding="Resource::*",
    )
    default_policy = role.node.find_child("DefaultPolicy")
    for check in ("CKV_AWS_111", "CKV_AWS_109"):
        justify_scan(
            default_policy,
            check,
            "SageMaker's network-interface actions (Create/Delete NetworkInterface and its Permission) for the "
            "role's jobs and models in the subnets: the interfaces are made at run time, no ARN exists to name; "
            "the other statements name their resources.",
        )


def deny_compute_outside(
    role: iam.IRole, network: NetworkRefs, actions: Sequence[str] = _SAGEMAKER_VPC_ACTIONS
) -> None:
    """Refuse `role` any of `actions` (SageMaker calls that start compute) outside the environment's subnets and
    jobs' security groups, or without a VPC at all: IAM's sagemaker:VpcSubnets and sagemaker:VpcSecurityGroupIds
    keys describe the request, so a job or model without the network config cannot be made by this role."""
    for sid, conditions in (
        ("OnlyInTheSubnets", {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": network.subnet_ids}}),
        (
            "OnlyWithTheGroups",
            {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSecurityGroupIds": network.jobs_security_group_ids}},
        ),
        ("NeverOutsideTheVpc", {"Null": {"sagemaker:VpcSubnets": "true"}}),
    ):
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=sid, effect=iam.Effect.DENY, actions=list(actions), resources=["*"], conditions=conditions
            )
        )


def network_substitutions(network: NetworkRefs | None, runs_in_a_vpc: bool, where: str) -> dict[str, list[str]]:
    """The list placeholders of a pipeline definition (`PipelineDefinition.render(lists=...)`): the subnets and
    the jobs' security groups. A definition built for a VPC needs a network and the other way round: the
    fingerprint makes them agree, this says so if they do not."""
    if runs_in_a_vpc != (network is not None):
        raise ConfigError(
            f"{where}: the committed pipeline definition {'runs' if runs_in_a_vpc else 'does not run'} its jobs in "
            f"a VPC but network.mode is {'none' if network is None else 'create or import'}: rebuild the definitions "
            "(make pipeline-definitions)"
        )
    if network is None:
        return {}
    return {
        PLACEHOLDERS.subnet_ids: network.subnet_ids,
        PLACEHOLDERS.security_group_ids: network.jobs_security_group_ids,
    }
