"""Batch inference, step 0: the SageMaker model of the newest approved package of a model package group.

The newest package with status ``Approved`` (ListModelPackages, newest first) becomes a SageMaker model named
``<group>-v<version>`` created from the package (``PrimaryContainer.ModelPackageName``), so the transform job
serves exactly what was approved. A model of that name that already exists is reused (re-runs and concurrent
runs create nothing twice); one that serves another package is an error. In a VPC environment the model is
created in the subnets and security groups given (``--subnets``, ``--security-group-ids``), network-isolated with
``--network-isolation``: the transform job runs it there. Writes ``model.json``:
``{"model_name", "model_package_arn", "model_package_version"}``.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from pipeline_code import aws
from pipeline_code.artifacts import atomic_output, write_json
from pipeline_code.cli import PROCESSING_OUTPUT, run_step
from pipeline_code.errors import PipelineError

MODEL_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's rule for model names


def latest_approved(sagemaker: Any, group: str) -> dict[str, Any]:
    """The summary of the group's newest Approved package; none approved is an error naming the group."""
    response = aws.call(
        sagemaker,
        "ListModelPackages",
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    packages = response.get("ModelPackageSummaryList", [])
    if not packages:
        raise PipelineError(f"model package group '{group}' has no Approved model package: approve one first")
    return dict(packages[0])


def model_name(group: str, version: int) -> str:
    name = f"{group}-v{version}"
    if not MODEL_NAME.match(name):
        raise PipelineError(f"model name '{name}' breaks SageMaker's rule (1-63 letters, digits and hyphens)")
    return name


def existing_model(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """DescribeModel, or None when there is no model of that name."""
    from botocore.exceptions import ClientError

    try:
        return dict(sagemaker.describe_model(ModelName=name))
    except ClientError as err:
        if aws.error_code(err) == "ValidationException" and "Could not find model" in str(err):
            return None
        raise PipelineError(f"DescribeModel failed: {err}") from err


def network_fields(
    subnets: list[str] | None, security_group_ids: list[str] | None, *, isolated: bool
) -> dict[str, Any]:
    """CreateModel's VpcConfig and EnableNetworkIsolation: both or neither of subnets and security groups."""
    if bool(subnets) != bool(security_group_ids):
        raise PipelineError("--subnets and --security-group-ids go together: a model in a VPC needs both")
    fields: dict[str, Any] = {"EnableNetworkIsolation": True} if isolated else {}
    if subnets:
        fields["VpcConfig"] = {"Subnets": list(subnets), "SecurityGroupIds": list(security_group_ids or [])}
    return fields


def ensure_model(
    sagemaker: Any, name: str, package_arn: str, role_arn: str, network: dict[str, Any] | None = None
) -> bool:
    """Create the model from the package (in `network`'s subnets, see `network_fields`) unless it exists;
    returns whether it was created."""
    from botocore.exceptions import ClientError

    found = existing_model(sagemaker, name)
    if found is None:
        try:
            sagemaker.create_model(
                ModelName=name,
                PrimaryContainer={"ModelPackageName": package_arn},
                ExecutionRoleArn=role_arn,
                **(network or {}),
            )
            return True
        except ClientError as err:
            if "already existing model" not in str(err):  # else a concurrent run created it first
                raise PipelineError(f"CreateModel failed: {err}") from err
            found = existing_model(sagemaker, name) or {}
    serves = found.get("PrimaryContainer", {}).get("ModelPackageName")
    if serves and serves != package_arn:
        raise PipelineError(f"model '{name}' exists but serves {serves}, not {package_arn}")
    has, wanted = found.get("VpcConfig") or None, (network or {}).get("VpcConfig")
    if found and _subnets_and_groups(has) != _subnets_and_groups(wanted):
        # e.g. made before the environment moved into a VPC: its transform jobs would run outside the subnets
        raise PipelineError(
            f"model '{name}' exists with another network (VpcConfig {has}) than this environment's ({wanted}): "
            "delete it (DeleteModel) and run again"
        )
    return False


def _subnets_and_groups(vpc: dict[str, Any] | None) -> tuple[frozenset[str], frozenset[str]]:
    vpc = vpc or {}
    return frozenset(vpc.get("Subnets", ())), frozenset(vpc.get("SecurityGroupIds", ()))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-package-group", required=True)
    parser.add_argument("--execution-role-arn", required=True, help="role the model's containers run with")
    parser.add_argument("--region", default=None)
    parser.add_argument("--endpoint-url", default=None)
    parser.add_argument("--output", default=f"{PROCESSING_OUTPUT}/model")
    parser.add_argument("--subnets", nargs="+", default=None, help="the model's VPC subnets (with security groups)")
    parser.add_argument("--security-group-ids", nargs="+", default=None, help="the model's security groups")
    parser.add_argument("--network-isolation", action="store_true", help="the model's containers make no network calls")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        sagemaker = aws.make_client("sagemaker", args.endpoint_url, args.region)
        package = latest_approved(sagemaker, args.model_package_group)
        arn, version = package["ModelPackageArn"], int(package["ModelPackageVersion"])
        name = model_name(args.model_package_group, version)
        network = network_fields(args.subnets, args.security_group_ids, isolated=args.network_isolation)
        created = ensure_model(sagemaker, name, arn, args.execution_role_arn, network)
        with atomic_output(args.output) as out:
            write_json(
                out / "model.json", {"model_name": name, "model_package_arn": arn, "model_package_version": version}
            )
        print(f"resolve_model: {name} {'created' if created else 'exists'} for {arn}")

    return run_step(step, "resolve_model")


if __name__ == "__main__":
    sys.exit(main())
