"""The promotion state machine's JSONata, evaluated by the jsonata library (npm, pinned in package.json).

Step Functions evaluates these expressions only at run time, so a typo or a wrong response path would first show
as a failed promotion. Here every expression of every environment's definition is compiled, and the ones that read
API responses are evaluated against real-shaped data: DescribeModelPackage of a package registered on the local
moto server the way the training pipeline registers one, SageMaker's error for a missing endpoint as moto returns
it, wrapped the way Step Functions passes a service error to a Catch. The Choice states are evaluated rule by rule
in order, as Step Functions does, to find where each situation leads.

Not covered: Step Functions' own evaluation (its JSONata version and its added functions: `$uuid` and `$parse` are
implemented in jsonata_eval.js as documented), and the AWS calls themselves.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stacks.units.native_monitoring import PACKAGE_BASELINES
from tests.moto_server import moto_server
from tests.stacks.rendering import render
from tests.stacks.rendering import resources as _resources
from tests.synthesis import Synthesis

EVALUATOR = Path(__file__).with_name("jsonata_eval.js")
REGION = "eu-west-1"
RUNS = "s3://mlops-prod-artifacts-123456789012-eu-west-1/pipeline-runs/exec-1"


_NODE: list[subprocess.Popen[str]] = []  # one evaluator process for the module, started on first use


def _jsonata(compile_: list[str], evaluate: list[dict[str, Any]]) -> dict[str, Any]:
    if not _NODE or _NODE[0].poll() is not None:
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        _NODE[:] = [subprocess.Popen(["node", str(EVALUATOR)], text=True, **pipes)]
    node = _NODE[0]
    assert node.stdin is not None
    assert node.stdout is not None
    node.stdin.write(json.dumps({"compile": compile_, "evaluate": evaluate}, default=str) + "\n")
    node.stdin.flush()
    line = node.stdout.readline()
    assert line, f"the JSONata evaluator stopped: {node.stderr.read() if node.stderr else ''}"
    return dict(json.loads(line))


@pytest.fixture(scope="module", autouse=True)
def _stop_evaluator() -> Iterator[None]:
    yield
    for node in _NODE:
        if node.stdin:
            node.stdin.close()
        node.wait(timeout=10)


def evaluate(expression: str, **bindings: Any) -> Any:
    """The value of one `{% ... %}` expression with Step Functions' variables bound (`states`, `package`...)."""
    (result,) = _jsonata([], [{"expression": _body(expression), "bindings": bindings}])["results"]
    assert "error" not in result, f"{expression}: {result['error']}"
    assert "undefined" not in result, f"{expression} is undefined: Step Functions fails such a state"
    return result["value"]


def _body(expression: str) -> str:
    assert expression.startswith("{%"), expression
    assert expression.endswith("%}"), expression
    return expression[2:-2].strip()


def _expressions(node: Any) -> Iterator[str]:
    if isinstance(node, str) and node.startswith("{%"):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _expressions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _expressions(value)


def _states(synthesis: Synthesis, stage: str) -> dict[str, Any]:
    template = synthesis.stack(stage, "Operations").template
    (machine,) = [
        r for k, r in _resources(template, "AWS::StepFunctions::StateMachine").items() if k.startswith("ModelPromotion")
    ]
    return dict(json.loads(render(machine["Properties"]["DefinitionString"]))["States"])


# Every environment's state machine, and prod's with the Model Monitor backend (which adds states)
MACHINES = ("dev", "staging", "prod", "prod-model-monitor")


@pytest.fixture(scope="module")
def machines(synthesis: Synthesis, model_monitor_synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    found = {stage: _states(synthesis, stage) for stage in ("dev", "staging", "prod")}
    found["prod-model-monitor"] = _states(model_monitor_synthesis, "prod")
    assert tuple(found) == MACHINES
    return found


def choose(state: dict[str, Any], **bindings: Any) -> str:
    """The state a Choice goes to: its first rule whose Condition is true, else its Default."""
    for rule in state["Choices"]:
        if evaluate(rule["Condition"], **bindings) is True:
            return str(rule["Next"])
    return str(state["Default"])


@pytest.mark.parametrize("name", MACHINES)
def test_every_expression_of_every_environment_compiles(machines: dict[str, dict[str, Any]], name: str) -> None:
    expressions = sorted({_body(e) for e in _expressions(machines[name])})
    assert len(expressions) > 30
    compiled = _jsonata(expressions, [])["compiled"]
    errors = {e: error for e, error in zip(expressions, compiled, strict=True) if error}
    assert errors == {}


SERVING_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "MLOPS_DECISION_THRESHOLD": "0.1834",
}


def _register(sagemaker: Any, *, native_checks: bool) -> dict[str, Any]:
    """A package as the training pipeline registers it (see pipeline_definition.builders.registration); the one
    without native checks as an older package: no container environment."""
    metadata = {"trigger": "drift", "code_version": "0123abc"}
    if native_checks:
        metadata |= {
            "model_monitor_statistics": f"{RUNS}/NativeDataQualityBaseline/baseline/statistics.json",
            "model_monitor_constraints": f"{RUNS}/NativeDataQualityBaseline/baseline/constraints.json",
            "model_monitor_shap_baseline": f"{RUNS}/NativeBaselineInputs/shap/shap_baseline.csv",
        }
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="mlops-prod-models",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5",
                    "ModelDataUrl": f"{RUNS}/TrainModel/output/model.tar.gz",
                    **({"Environment": SERVING_ENVIRONMENT} if native_checks else {}),
                }
            ],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json", "text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{RUNS}/EvaluateModel/evaluation.json"}
            }
        },
        DriftCheckBaselines={
            "ModelDataQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{RUNS}/Preprocess/baseline.json"}
            }
        },
        CustomerMetadataProperties=metadata,
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    described.pop("ResponseMetadata")
    return dict(json.loads(json.dumps(described, default=str)))  # as Step Functions sees it: JSON


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    """Two described packages (with and without native-check baselines) and the missing-endpoint error."""
    with moto_server() as url:
        sagemaker = boto3.client(
            "sagemaker", region_name=REGION, endpoint_url=url, aws_access_key_id="t", aws_secret_access_key="t"
        )
        sagemaker.create_model_package_group(ModelPackageGroupName="mlops-prod-models")
        with_baselines = _register(sagemaker, native_checks=True)
        without = _register(sagemaker, native_checks=False)
        try:
            sagemaker.describe_endpoint(EndpointName="mlops-prod-endpoint")
        except sagemaker.exceptions.ClientError as error:
            code, message = error.response["Error"]["Code"], error.response["Error"]["Message"]
        yield {
            "with_baselines": with_baselines,
            "without_baselines": without,
            # How Step Functions hands an AWS SDK integration's service error to a Catch
            "missing_endpoint": {
                "Error": f"SageMaker.{code}",
                "Cause": f"{message} (Service: SageMaker, Status Code: 400, Error Code: {code}, Request ID: r-1)",
            },
        }


def _described(states: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The variables DescribePackage assigns, evaluated on a DescribeModelPackage response."""
    assigned = states["DescribePackage"]["Assign"]
    package = {field: evaluate(expr, states={"result": response}) for field, expr in assigned["package"].items()}
    return {
        "package": package,
        "modelName": evaluate(assigned["modelName"], states={"result": response}, suffix="1a2b3c4d"),
    }


def test_describe_package_reads_what_the_registry_returns(machines, world) -> None:
    response = world["with_baselines"]
    assigned = _described(machines["prod-model-monitor"], response)
    package = assigned["package"]
    assert package["arn"] == response["ModelPackageArn"]
    assert package["version"] == 1
    assert package["image"].endswith("/sagemaker-xgboost:3.0-5")
    assert package["modelDataUrl"] == f"{RUNS}/TrainModel/output/model.tar.gz"
    assert package["baselineUri"] == f"{RUNS}/Preprocess/baseline.json"
    assert package["evaluationUri"] == f"{RUNS}/EvaluateModel/evaluation.json"
    assert package["environment"] == SERVING_ENVIRONMENT  # CreateModel and RegisterImported pass it on
    for key in PACKAGE_BASELINES:
        assert package[key] == response["CustomerMetadataProperties"][key]
    assert assigned["modelName"] == "mlops-prod-v1-1a2b3c4d"  # unique per execution, within SageMaker's limits
    # A package without native-check baselines reads as '' (an undefined value would fail the state itself)
    bare = _described(machines["prod-model-monitor"], world["without_baselines"])["package"]
    assert {key: bare[key] for key in PACKAGE_BASELINES} == dict.fromkeys(PACKAGE_BASELINES, "")
    assert bare["environment"] == {}  # a package registered without one: CreateModel gets an empty environment
    assert set(_described(machines["prod"], response)["package"]) == {
        "arn", "version", "image", "environment", "modelDataUrl", "baselineUri", "evaluationUri",
    }  # fmt: skip


def test_with_model_monitor_only_packages_with_baselines_go_on(machines, world) -> None:
    states = machines["prod-model-monitor"]
    choice = states["HasModelMonitorBaselines"]
    for response, expected in (
        (world["with_baselines"], "CreateModel"),
        (world["without_baselines"], "NoModelMonitorBaselines"),
    ):
        package = _described(states, response)["package"]
        assert choose(choice, package=package) == expected
    package = _described(states, world["without_baselines"])["package"]
    reason = evaluate(states["NoModelMonitorBaselines"]["Assign"]["reason"], package=package)
    assert reason.startswith(world["without_baselines"]["ModelPackageArn"] + " has no Model Monitor baselines")


def test_copies_name_the_source_object_as_s3_copy_object_expects(machines, world) -> None:
    states = machines["prod-model-monitor"]
    package = _described(states, world["with_baselines"])["package"]
    copies = {name: s for name, s in states.items() if name.startswith("Copy")}
    assert set(copies) == {"CopyBaseline", "CopyModel", *(state for state, _ in PACKAGE_BASELINES.values())}
    for name, state in copies.items():
        source = evaluate(state["Arguments"]["CopySource"], package=package)
        assert source.startswith("mlops-prod-artifacts-123456789012-eu-west-1/pipeline-runs/exec-1/"), name
        assert not source.startswith("s3://")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_missing_endpoint_is_created_and_any_other_lookup_error_rejects(machines, world, stage: str) -> None:
    states = machines[stage]
    assert states["FindEndpoint"]["Catch"][0]["Next"] == "EndpointMissing"
    lookup = evaluate(
        states["FindEndpoint"]["Catch"][0]["Assign"]["lookupError"],
        states={"errorOutput": world["missing_endpoint"]},
    )
    assert choose(states["EndpointMissing"], lookupError=lookup) == "CreateEndpoint"
    throttled = {"Error": "SageMaker.ThrottlingException", "Cause": "Rate exceeded (Service: SageMaker)"}
    assert choose(states["EndpointMissing"], lookupError=throttled) == "BaselinesPublished"
    reason = evaluate(states["FindEndpoint"]["Catch"][0]["Assign"]["reason"], states={"errorOutput": throttled})
    assert reason == "SageMaker.ThrottlingException: Rate exceeded (Service: SageMaker)"


def test_the_wait_for_in_service_decides_as_intended(machines) -> None:
    states = machines["prod"]
    now = evaluate("{% $millis() %}")
    deadline = evaluate(states["UpdateEndpoint"]["Assign"]["deadline"])
    minutes = (deadline - now) / 60_000
    assert 0 < minutes <= 24 * 60
    new, old = "mlops-prod-v2-aaaa1111", "mlops-prod-v1-bbbb2222"
    cases = {
        ("InService", new, deadline): "SmokeTest",
        ("Updating", old, deadline): "WaitForEndpoint",
        ("Updating", old, now - 1): "Rollback",  # past the deadline
        ("Failed", old, deadline): "Rollback",
        ("InService", old, deadline): "Rollback",  # SageMaker rolled a failed update back by itself
    }
    for (status, live, until), expected in cases.items():
        bindings = {"endpointStatus": status, "liveConfig": live, "endpointConfigName": new, "deadline": until}
        assert choose(states["EndpointState"], **bindings) == expected, (status, live)
    reason_rule = next(r for r in states["EndpointState"]["Choices"] if "Failed" in r["Condition"])
    reason = evaluate(
        reason_rule["Assign"]["reason"], endpointStatus="Failed", liveConfig=old, failureReason="image not found"
    )
    assert reason == f"the endpoint did not take the new config: Failed {old} image not found"


def test_a_rollback_undoes_only_what_this_execution_did(machines) -> None:
    states = machines["prod"]["Rollback"]
    first = {"firstDeploy": True, "endpointStatus": "Failed", "liveConfig": "x", "previousConfig": "x"}
    assert choose(states, **first) == "DeleteNewEndpoint"
    rolled_back = {"firstDeploy": False, "endpointStatus": "InService", "liveConfig": "old", "previousConfig": "old"}
    assert choose(states, **rolled_back) == "RestoreScalableTarget"
    live_new = {"firstDeploy": False, "endpointStatus": "InService", "liveConfig": "new", "previousConfig": "old"}
    assert choose(states, **live_new) == "RevertEndpoint"


@pytest.mark.parametrize(("stage", "first_step"), [("dev", "UpdateEndpoint"), ("prod", "DeregisterScaling")])
def test_a_busy_endpoint_is_waited_for_within_the_bound_then_the_package_is_rejected(
    machines, platform_config, stage: str, first_step: str
) -> None:
    """Two approvals minutes apart: the second waits for the first's update instead of rejecting a good package."""
    states = machines[stage]
    minutes = platform_config.environment(stage).promotion.in_service_timeout_minutes
    now = evaluate("{% $millis() %}")
    busy_until = evaluate(states["CreateEndpointConfig"]["Assign"]["busyUntil"])
    assert abs((busy_until - now) / 60_000 - minutes) < 0.1
    ready = states["EndpointReady"]
    assert choose(ready, endpointStatus="InService", busyUntil=busy_until) == first_step
    for status in ("Updating", "Creating", "SystemUpdating", "RollingBack"):
        assert choose(ready, endpointStatus=status, busyUntil=busy_until) == "WaitWhileBusy", status
        assert choose(ready, endpointStatus=status, busyUntil=now - 1) == "EndpointBusy", status
    # DeleteEndpoint is the only operation on a Failed endpoint: it is replaced, not waited for
    assert choose(ready, endpointStatus="Failed", busyUntil=busy_until) == "DeleteFailedEndpoint"
    assert states["WaitWhileBusy"]["Next"] == "FindEndpoint"
    reason = evaluate(states["EndpointBusy"]["Assign"]["reason"], endpointStatus="Updating")
    assert reason == f"mlops-{stage}-endpoint stayed Updating for {minutes} minutes: approve again later"
    assert states["EndpointBusy"]["Next"] == "BaselinesPublished"  # the clean-up, then RejectPackage


def _listed(names: list[str]) -> dict[str, Any]:
    """ListEndpointConfigs as the state machine calls it, on the local moto server, after creating `names` in order
    (oldest first; moto sorts by creation time, so each is created a little later than the previous one)."""
    with moto_server() as url:
        sagemaker = boto3.client(
            "sagemaker", region_name=REGION, endpoint_url=url, aws_access_key_id="t", aws_secret_access_key="t"
        )
        for name in names:
            sagemaker.create_model(
                ModelName=name,
                ExecutionRoleArn="arn:aws:iam::123456789012:role/endpoint",
                PrimaryContainer={"Image": "i"},
            )
            variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
            sagemaker.create_endpoint_config(
                EndpointConfigName=name, ProductionVariants=[variant | {"InstanceType": "ml.m5.large"}]
            )
            time.sleep(0.002)
        listed = sagemaker.list_endpoint_configs(
            NameContains="mlops-prod-v", SortBy="CreationTime", SortOrder="Descending", MaxResults=100
        )
    listed.pop("ResponseMetadata")
    return dict(json.loads(json.dumps(listed, default=str)))


def test_the_clean_up_deletes_only_this_environments_superseded_promotions(machines, platform_config) -> None:
    keep = platform_config.environment("prod").promotion.keep_endpoint_configs
    assert keep == 3
    expression = machines["prod"]["ListEndpointConfigs"]["Assign"]["superseded"]
    promotions = [f"mlops-prod-v{v}-{v:08x}" for v in range(1, 7)]  # v1 (oldest) ... v6
    others = ["mlops-prod-v7-not-a-promotion", "mlops-prod-models-v3"]  # a hand-made config, a batch model
    listed = _listed([*promotions[:3], *others, *promotions[3:]])
    live = promotions[-1]
    # newest first: v6 (live) and the two before it stay; v3, v2, v1 go; the others are never touched
    assert evaluate(expression, states={"result": listed}, endpointConfigName=live) == promotions[2::-1]
    # a rollback target that is not the newest: the live config is kept wherever it sits in the list
    assert live not in evaluate(expression, states={"result": listed}, endpointConfigName=promotions[0])
    for count, expected in ((1, []), (keep, []), (keep + 1, [promotions[0]])):  # one name still comes as a list
        listed = _listed(promotions[:count])
        assert evaluate(expression, states={"result": listed}, endpointConfigName=promotions[count - 1]) == expected
