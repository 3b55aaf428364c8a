"""Private networking per `network.mode`, read from the shared syntheses.

none (the shipped dev), create (the shipped staging and prod) and import (`model_monitor_synthesis`'s prod, a
VPC and subnets by id): where each compute resource runs, what the security groups admit, the VPC endpoints, and
the hardening that comes with it (encrypted function variables and log groups, reserved concurrency, dead-letter
queues with alarms). The jobs of the pipeline definitions are checked request by request in
tests/contracts/test_definition_requests.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms

from config import NetworkSettings, PlatformConfig
from naming import ResourceNames
from stacks.units.network import PrivateNetwork
from tests.conftest import IMPORTED_NETWORK
from tests.stacks.rendering import as_list, policy_statements, render, resources
from tests.synthesis import Synthesis, SynthesizedStack

VPC_ENVIRONMENTS = ("staging", "prod")
# CDK's own deploy-time handler that empties the VPC's default security group: CloudFormation invokes it once per
# deploy; it calls the EC2 API, which the isolated subnets have no endpoint for (acknowledged, with reasons).
OUTSIDE_THE_VPC = ("CustomVpcRestrictDefaultSGCustomResourceProviderHandler",)


def _stacks(synthesis: Synthesis, stage: str) -> list[SynthesizedStack]:
    return [s for s in synthesis.stacks if s.stage == stage]


def _all(synthesis: Synthesis, stage: str, kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for stack in _stacks(synthesis, stage):
        found |= {f"{stack.stack_id}/{key}": r for key, r in resources(stack.template, kind).items()}
    return found


def _lake(synthesis: Synthesis, stage: str) -> dict[str, Any]:
    return synthesis.stack(stage, "DataLake").template


# ------------------------------------------------------------------------------------------------- create


@pytest.mark.parametrize("stage", VPC_ENVIRONMENTS)
def test_create_builds_isolated_subnets_in_each_zone_with_encrypted_flow_logs(
    synthesis: Synthesis, platform_config: PlatformConfig, stage: str
) -> None:
    network = platform_config.environment(stage).network
    lake = _lake(synthesis, stage)
    (vpc,) = resources(lake, "AWS::EC2::VPC").values()
    assert vpc["Properties"]["CidrBlock"] == network.cidr
    subnets = resources(lake, "AWS::EC2::Subnet").values()
    assert len(subnets) == network.availability_zones
    # The region's first zones, resolved at deploy time: synth looked nothing up.
    zones = [s["Properties"]["AvailabilityZone"] for s in subnets]
    assert zones == [{"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in range(network.availability_zones)]
    assert not any(s["Properties"].get("MapPublicIpOnLaunch") for s in subnets)
    for kind in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        assert not resources(lake, kind), kind  # isolated: no route to the internet
    for table in resources(lake, "AWS::EC2::Route").values():
        assert "GatewayId" not in table["Properties"]
        assert "NatGatewayId" not in table["Properties"]
    (flow_log,) = resources(lake, "AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["TrafficType"] == network.flow_logs_traffic
    group = render(flow_log["Properties"]["LogGroupName"]).strip("<>")
    (key_id, attribute) = lake["Resources"][group]["Properties"]["KmsKeyId"]["Fn::GetAtt"]
    assert (key_id.startswith("DataLakeKey"), attribute) == (True, "Arn")


@pytest.mark.parametrize("stage", VPC_ENVIRONMENTS)
def test_the_s3_and_dynamodb_gateways_are_on_every_private_route_table_for_this_account_only(
    synthesis: Synthesis, platform_config: PlatformConfig, stage: str
) -> None:
    account = platform_config.environment(stage).account
    lake = _lake(synthesis, stage)
    tables = sorted(resources(lake, "AWS::EC2::RouteTable"))
    gateways = {
        render(e["Properties"]["ServiceName"]): e["Properties"]
        for e in resources(lake, "AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
    }
    assert {name.rsplit(".", 1)[1] for name in gateways} == {"s3", "dynamodb"}
    for endpoint in gateways.values():
        assert sorted(t["Ref"] for t in endpoint["RouteTableIds"]) == tables
        (allowed, *_) = endpoint["PolicyDocument"]["Statement"]
        assert allowed["Condition"]["StringEquals"]["aws:PrincipalAccount"] == account
        assert account in as_list(allowed["Condition"]["StringEquals"]["aws:ResourceAccount"])


def test_the_s3_gateway_admits_the_buckets_of_the_promotion_source(synthesis: Synthesis) -> None:
    """staging's promotion checks (inside its VPC) read dev's artifacts: dev's account is a resource account."""
    lake = _lake(synthesis, "staging")
    (s3,) = [
        e["Properties"]
        for e in resources(lake, "AWS::EC2::VPCEndpoint").values()
        if render(e["Properties"]["ServiceName"]).endswith(".s3")
    ]
    accounts = s3["PolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]["aws:ResourceAccount"]
    assert accounts == ["222222222222", "111111111111"]


@pytest.mark.parametrize("stage", VPC_ENVIRONMENTS)
def test_the_configured_interface_endpoints_exist_with_private_dns_and_a_policy_for_this_account(
    synthesis: Synthesis, platform_config: PlatformConfig, stage: str
) -> None:
    network = platform_config.environment(stage).network
    lake = _lake(synthesis, stage)
    interfaces = [
        e["Properties"]
        for e in resources(lake, "AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType") == "Interface"
    ]
    region = platform_config.environment(stage).region
    services = sorted(render(e["ServiceName"]).replace(region, "<AWS::Region>") for e in interfaces)
    expected = {
        name: f"com.amazonaws.<AWS::Region>.{name.replace('-api', '.api').replace('-dkr', '.dkr')}"
        for name in network.interface_endpoints
    }
    expected |= {
        "sagemaker-api": "com.amazonaws.<AWS::Region>.sagemaker.api",
        "sagemaker-runtime": "com.amazonaws.<AWS::Region>.sagemaker.runtime",
        "sagemaker-featurestore-runtime": "com.amazonaws.<AWS::Region>.sagemaker.featurestore-runtime",
        "sagemaker-experiments": "aws.sagemaker.<AWS::Region>.experiments",
        "ecr-api": "com.amazonaws.<AWS::Region>.ecr.api",
        "ecr-dkr": "com.amazonaws.<AWS::Region>.ecr.dkr",
    }
    assert services == sorted(expected[name] for name in network.interface_endpoints)
    zones = network.availability_zones
    for endpoint in interfaces:
        assert endpoint["PrivateDnsEnabled"] is True
        assert len(endpoint["SubnetIds"]) == zones  # billed per zone per hour: README, "What it costs"
        (statement,) = endpoint["PolicyDocument"]["Statement"]
        assert statement["Condition"] == {
            "StringEquals": {"aws:PrincipalAccount": platform_config.environment(stage).account}
        }
        (group,) = endpoint["SecurityGroupIds"]
        assert "EndpointsSecurityGroup" in json.dumps(group)


@pytest.mark.parametrize("stage", VPC_ENVIRONMENTS)
def test_the_endpoints_admit_https_only_from_the_platform_groups(synthesis: Synthesis, stage: str) -> None:
    lake = _lake(synthesis, stage)
    ingress = [
        r["Properties"]
        for r in resources(lake, "AWS::EC2::SecurityGroupIngress").values()
        if "EndpointsSecurityGroup" in json.dumps(r["Properties"]["GroupId"])
    ]
    sources = sorted(render(i["SourceSecurityGroupId"]) for i in ingress)
    assert [re.sub(r"[0-9A-F]{8}\.", ".", s) for s in sources] == [
        "<NetworkFunctionsSecurityGroup.GroupId>",
        "<NetworkJobsSecurityGroup.GroupId>",
    ]
    assert {(i["IpProtocol"], i["FromPort"], i["ToPort"]) for i in ingress} == {("tcp", 443, 443)}


@pytest.mark.parametrize("synthesis_name", ["synthesis", "model_monitor_synthesis"])
def test_no_security_group_admits_traffic_from_anywhere(request: pytest.FixtureRequest, synthesis_name: str) -> None:
    synthesis: Synthesis = request.getfixturevalue(synthesis_name)
    checked = 0
    for stack in synthesis.stacks:
        rules = [
            rule
            for group in resources(stack.template, "AWS::EC2::SecurityGroup").values()
            for rule in group["Properties"].get("SecurityGroupIngress", [])
        ] + [r["Properties"] for r in resources(stack.template, "AWS::EC2::SecurityGroupIngress").values()]
        for rule in rules:
            checked += 1
            assert "CidrIp" not in rule, rule  # only other groups of the platform
            assert "CidrIpv6" not in rule, rule
            assert "SourceSecurityGroupId" in rule, rule
    assert checked  # the VPC environments have groups with ingress rules


@pytest.mark.parametrize("stage", VPC_ENVIRONMENTS)
def test_security_groups_send_only_https_out_and_jobs_talk_among_themselves(synthesis: Synthesis, stage: str) -> None:
    lake = _lake(synthesis, stage)
    groups = resources(lake, "AWS::EC2::SecurityGroup")
    for key, group in groups.items():
        egress = group["Properties"]["SecurityGroupEgress"]
        if key.startswith("NetworkEndpointsSecurityGroup"):
            assert egress[0]["CidrIp"] == "255.255.255.255/32"  # matches nothing: endpoints only answer
        elif not key.startswith("NetworkVpcDefault"):
            assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in egress] == [("tcp", 443, 443)], key
    (to_itself,) = resources(lake, "AWS::EC2::SecurityGroupEgress").values()
    assert to_itself["Properties"]["IpProtocol"] == "-1"
    assert to_itself["Properties"]["GroupId"] == to_itself["Properties"]["DestinationSecurityGroupId"]


# ----------------------------------------------------------------------------------- compute in the subnets


def _function_network(function: dict[str, Any]) -> tuple[list[str], list[str]] | None:
    config = function["Properties"].get("VpcConfig")
    if config is None:
        return None
    return [render(s) for s in config["SubnetIds"]], [render(g) for g in config["SecurityGroupIds"]]


@pytest.mark.parametrize("stage", VPC_ENVIRONMENTS)
def test_every_function_of_a_vpc_environment_runs_in_its_subnets(
    synthesis: Synthesis, platform_config: PlatformConfig, stage: str
) -> None:
    zones = platform_config.environment(stage).network.availability_zones
    functions = _all(synthesis, stage, "AWS::Lambda::Function")
    placed = 0
    for key, function in functions.items():
        network = _function_network(function)
        if key.split("/", 1)[1].startswith(OUTSIDE_THE_VPC):
            assert network is None
            continue
        assert network is not None, key
        subnets, groups = network
        assert len(subnets) == zones, key
        assert all(re.fullmatch(r"<PublishOutputRefNetworkVpcprivateSubnet\dSubnet\w+>", s) for s in subnets), subnets
        assert [g.split("SecurityGroup")[0] for g in groups] == ["<PublishOutputFnGetAttNetworkFunctions"]
        placed += 1
    # the five functions of the operations stack and the code deployment's handler
    assert placed == 6


def test_no_function_of_dev_is_in_a_vpc(synthesis: Synthesis) -> None:
    functions = _all(synthesis, "dev", "AWS::Lambda::Function")
    assert functions
    assert all(_function_network(f) is None for f in functions.values())
    assert not _all(synthesis, "dev", "AWS::EC2::VPC")
    assert not _all(synthesis, "dev", "AWS::EC2::SecurityGroup")


@pytest.mark.parametrize("stage", ["dev", *VPC_ENVIRONMENTS])
def test_endpoint_models_run_in_the_subnets_with_the_jobs_group(synthesis: Synthesis, stage: str) -> None:
    """The promotion's CreateModel (the model the endpoint and the gate's transforms run) names the network."""
    operations = synthesis.stack(stage, "Operations").template
    (machine,) = resources(operations, "AWS::StepFunctions::StateMachine").values()
    states = _states(json.loads(render(machine["Properties"]["DefinitionString"])))
    (arguments,) = [s["Arguments"] for s in states if s.get("Resource", "").endswith(":sagemaker:createModel")]
    if stage == "dev":
        assert "VpcConfig" not in arguments
        return
    vpc = arguments["VpcConfig"]
    assert [s.split("Subnet")[0] for s in vpc["Subnets"]] == ["<PublishOutputRefNetworkVpcprivate"] * 2
    assert [g.split("SecurityGroup")[0] for g in vpc["SecurityGroupIds"]] == ["<PublishOutputFnGetAttNetworkJobs"]


def _states(node: Any) -> list[dict[str, Any]]:
    """Every state, nested ones (Map item processors) included."""
    found = []
    if isinstance(node, dict):
        for state in node.get("States", {}).values():
            found.append(state)
            found += _states(state.get("ItemProcessor", {}))
    return found


@pytest.mark.parametrize("stage", VPC_ENVIRONMENTS)
def test_every_pipeline_gets_both_subnets_and_the_jobs_group_in_each_job(synthesis: Synthesis, stage: str) -> None:
    """PipelineDefinition.render turns the one placeholder string into one string per subnet."""
    bodies = [
        p["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
        for p in _all(synthesis, stage, "AWS::SageMaker::Pipeline").values()
    ]
    assert len(bodies) == 3
    for body in bodies:
        text = render(body)
        lists = re.findall(r'"Subnets":\[([^\]]*)\]', text)
        assert lists
        for found in lists:
            assert re.fullmatch(
                r'"<PublishOutputRefNetworkVpcprivateSubnet1\w+>","<PublishOutputRefNetworkVpcprivateSubnet2\w+>"',
                found,
            )
        for found in re.findall(r'"SecurityGroupIds":\[([^\]]*)\]', text):
            assert re.fullmatch(r'"<PublishOutputFnGetAttNetworkJobsSecurityGroup\w+>"', found)


@pytest.mark.parametrize("stage", VPC_ENVIRONMENTS)
def test_the_roles_that_start_compute_cannot_start_it_outside_the_vpc(synthesis: Synthesis, stage: str) -> None:
    roles = {
        "MlPipeline": (
            "TrainingPipelineExecutionRole",
            {"CreateProcessingJob", "CreateTrainingJob", "CreateHyperParameterTuningJob"},
        ),
        "Operations": ("OperationsPipelinesExecutionRole", {"CreateProcessingJob", "CreateModel"}),
    }
    for stack_id, (role, actions) in roles.items():
        template = synthesis.stack(stage, stack_id).template
        denied = {
            s["Sid"]: s
            for s in policy_statements(template, role, effect="Deny")
            if s.get("Sid", "").startswith(("Only", "Never"))
        }
        assert set(denied) == {"OnlyInTheSubnets", "OnlyWithTheGroups", "NeverOutsideTheVpc"}, role
        for statement in denied.values():
            assert {a.split(":")[1] for a in as_list(statement["Action"])} == actions
        assert denied["NeverOutsideTheVpc"]["Condition"] == {"Null": {"sagemaker:VpcSubnets": "true"}}
        subnets = denied["OnlyInTheSubnets"]["Condition"]["ForAnyValue:StringNotEquals"]["sagemaker:VpcSubnets"]
        assert len(subnets) == 2
    operations = synthesis.stack(stage, "Operations").template
    denied = policy_statements(operations, "ModelPromotionStateMachineRole", effect="Deny")
    assert {a for s in denied for a in as_list(s["Action"])} == {"sagemaker:CreateModel"}


def test_dev_roles_carry_no_network_fences(synthesis: Synthesis) -> None:
    for stack in _stacks(synthesis, "dev"):
        denied = policy_statements(stack.template, effect="Deny")
        assert not [s for s in denied if "sagemaker:VpcSubnets" in json.dumps(s.get("Condition", {}))]


# ------------------------------------------------------------------------------------------------- hardening


@pytest.mark.parametrize("stage", ["dev", *VPC_ENVIRONMENTS])
def test_functions_encrypt_their_variables_with_the_lake_key_and_reserve_their_concurrency(
    synthesis: Synthesis, platform_config: PlatformConfig, stage: str
) -> None:
    reserved = platform_config.environment(stage).functions.reserved_concurrency
    expected = {
        "RetrainingTriggersRetrainOnDrift": reserved.retrain_on_drift,
        "RetrainingTriggersRetrainOnNewData": reserved.retrain_on_new_data,
        "RetrainingTriggersRetrainOnSchedule": reserved.retrain_on_schedule,
        "ModelPromotionChecksFunction": reserved.promotion_checks,
        "ModelPromotionSmokeTestFunction": reserved.smoke_test,
    }
    functions = resources(synthesis.stack(stage, "Operations").template, "AWS::Lambda::Function")
    found = {}
    for key, function in functions.items():
        (name,) = [n for n in expected if key.startswith(n)]
        props = function["Properties"]
        found[name] = props["ReservedConcurrentExecutions"]
        assert "DataLakeKey" in render(props["KmsKeyArn"])  # the stateful stack's key, by cross-stack reference
    assert found == expected


@pytest.mark.parametrize("stage", ["dev", *VPC_ENVIRONMENTS])
def test_asynchronously_invoked_functions_have_a_dead_letter_queue_with_an_alarm(
    synthesis: Synthesis, stage: str
) -> None:
    """EventBridge and Scheduler invoke the retraining triggers asynchronously; Step Functions invokes the
    promotion's functions synchronously (a failure is caught by the state machine)."""
    operations = synthesis.stack(stage, "Operations").template
    functions = resources(operations, "AWS::Lambda::Function")
    invoked = set()
    for rule in resources(operations, "AWS::Events::Rule").values():
        invoked |= {render(t["Arn"]) for t in rule["Properties"].get("Targets", [])}
    for schedule in resources(operations, "AWS::Scheduler::Schedule").values():
        invoked.add(render(schedule["Properties"]["Target"]["Arn"]))
    asynchronous = {i.strip("<>").split(".")[0] for i in invoked if i.startswith("<RetrainingTriggers")}
    assert asynchronous == {k for k in functions if k.startswith("RetrainingTriggers")}
    alarms = resources(operations, "AWS::CloudWatch::Alarm").values()
    watched = {render(d["Value"]) for a in alarms for d in a["Properties"].get("Dimensions", [])}
    for key in asynchronous:
        queue = render(functions[key]["Properties"]["DeadLetterConfig"]["TargetArn"]).strip("<>").split(".")[0]
        assert f"<{queue}.QueueName>" in watched, key


@pytest.mark.parametrize("synthesis_name", ["synthesis", "model_monitor_synthesis"])
def test_every_log_group_is_encrypted_with_the_lake_key(request: pytest.FixtureRequest, synthesis_name: str) -> None:
    synthesis: Synthesis = request.getfixturevalue(synthesis_name)
    groups = 0
    for stack in synthesis.stacks:
        for key, group in resources(stack.template, "AWS::Logs::LogGroup").items():
            groups += 1
            assert "DataLakeKey" in json.dumps(group["Properties"]["KmsKeyId"]), f"{stack.stack_name}/{key}"
    assert groups


# ------------------------------------------------------------------------------------------------- import


def test_import_uses_the_given_vpc_and_subnets_and_creates_no_vpc(model_monitor_synthesis: Synthesis) -> None:
    subnets = IMPORTED_NETWORK["subnet_ids"]
    lake = _lake(model_monitor_synthesis, "prod")
    for kind in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::VPCEndpoint", "AWS::EC2::FlowLog"):
        assert not resources(lake, kind), kind
    groups = resources(lake, "AWS::EC2::SecurityGroup")
    assert {g["Properties"]["VpcId"] for g in groups.values()} == {IMPORTED_NETWORK["vpc_id"]}
    assert len(groups) == 2  # the jobs' and the functions'
    functions = _all(model_monitor_synthesis, "prod", "AWS::Lambda::Function")
    assert functions
    for key, function in functions.items():
        network = _function_network(function)
        assert network is not None, key
        assert network[0] == subnets
    for pipeline in _all(model_monitor_synthesis, "prod", "AWS::SageMaker::Pipeline").values():
        text = render(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
        assert f'"Subnets":["{subnets[0]}","{subnets[1]}"]' in text
    schedules = _all(model_monitor_synthesis, "prod", "AWS::SageMaker::DataQualityJobDefinition")
    for definition in schedules.values():
        assert definition["Properties"]["NetworkConfig"]["VpcConfig"]["Subnets"] == subnets


def _bare_network(settings: NetworkSettings, env: cdk.Environment | None = None) -> tuple[cdk.Stack, PrivateNetwork]:
    """`PrivateNetwork` alone in a stack of its own (prod's names), for what the construct tree shows."""
    stack = cdk.Stack(cdk.App(), "Network", env=env)
    network = PrivateNetwork(
        stack,
        "Network",
        settings=settings,
        names=ResourceNames("mlops", "prod", cdk.Aws.ACCOUNT_ID, cdk.Aws.REGION),
        key=kms.Key(stack, "Key"),
        log_retention=cdk.aws_logs.RetentionDays.ONE_YEAR,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    return stack, network


def test_import_with_security_groups_creates_none_and_uses_them(platform_config: PlatformConfig) -> None:
    settings = platform_config.environment("prod").network.model_copy(
        update={**IMPORTED_NETWORK, "security_group_ids": ["sg-0123456789abcdef0"]}
    )
    stack, network = _bare_network(settings, cdk.Environment(account="333333333333", region="eu-west-1"))
    assert network.refs.subnet_ids == IMPORTED_NETWORK["subnet_ids"]
    assert network.refs.jobs_security_group_ids == network.refs.functions_security_group_ids == ["sg-0123456789abcdef0"]
    created = [c for c in stack.node.find_all() if isinstance(c, cdk.CfnResource)]
    assert [c.cfn_resource_type for c in created] == ["AWS::KMS::Key"]


def test_the_zones_may_require_the_vpc_endpoint_except_for_the_platform_and_aws_services(
    platform_config: PlatformConfig,
) -> None:
    """`network.require_vpc_endpoint_for_s3`: object access to every zone only through the environment's S3
    endpoint, or by the platform's own roles, the CDK roles, the consumer's platform roles or an AWS service."""
    from app import feature_flags
    from stacks.data_lake_stack import DataLakeStack
    from stacks.units.settings import stage_names

    staging = platform_config.environment("staging")
    staging = staging.model_copy(
        update={"network": staging.network.model_copy(update={"require_vpc_endpoint_for_s3": True})}
    )
    app = cdk.App(context=feature_flags())
    stack = DataLakeStack(
        app,
        "DataLake",
        environment=staging,
        names=stage_names("mlops", "staging", "adult"),
        consumer_prefixes=[("333333333333", "mlops-prod")],
        env=cdk.Environment(account="222222222222", region="eu-west-1"),
    )
    # the policies as CloudFormation gets them, without synthesizing the whole stack
    policies = [stack.resolve(bucket.policy.document) for bucket in stack.lake.zones.values() if bucket.policy]
    denials = [s for p in policies for s in p["Statement"] if s.get("Sid") == "OnlyThroughTheVpcEndpoint"]
    assert len(denials) == 4  # raw, curated, features, artifacts (not the access logs)
    for statement in denials:
        assert statement["Effect"] == "Deny"
        assert not any(a.startswith(("s3:PutBucket", "s3:DeleteBucket")) for a in statement["Action"])
        conditions = statement["Condition"]
        assert render(conditions["StringNotEquals"]["aws:SourceVpce"]).startswith("<NetworkVpcS3")
        assert conditions["ArnNotLike"]["aws:PrincipalArn"] == [
            "arn:aws:iam::222222222222:role/mlops-staging-*",
            "arn:aws:iam::222222222222:role/cdk-*",
            "arn:aws:iam::333333333333:role/mlops-prod-*",
        ]
        assert conditions["BoolIfExists"] == {"aws:ViaAWSService": "false", "aws:PrincipalIsAWSService": "false"}


def test_create_with_nat_puts_the_compute_in_the_private_subnets_behind_one_nat_per_zone(
    platform_config: PlatformConfig,
) -> None:
    """`subnet_type: private-with-egress`: small public subnets hold the NAT gateways; the jobs and functions run in
    the private ones, whose routes lead to them (no construct synthesized: the tree is enough)."""
    settings = platform_config.environment("prod").network.model_copy(
        update={"subnet_type": "private-with-egress", "nat_gateways": 2}
    )
    stack, network = _bare_network(settings)  # environment-agnostic: the zones are Fn::GetAZs already
    assert network.vpc is not None
    created = [c.cfn_resource_type for c in stack.node.find_all() if isinstance(c, cdk.CfnResource)]
    assert created.count("AWS::EC2::NatGateway") == 2
    assert [s.subnet_id for s in network.vpc.private_subnets] == network.refs.subnet_ids
    assert not network.vpc.isolated_subnets
    assert len(network.vpc.public_subnets) == 2
