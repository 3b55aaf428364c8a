"""`network` and `functions`: what the shipped config says, and every bad input refused with its key and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import INTERFACE_ENDPOINTS, PlatformConfig, load_config, required_endpoints
from tests.config.editing import edited, refused, write

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
IMPORT = {"mode": "import", "vpc_id": VPC, "subnet_ids": SUBNETS}

BAD_NETWORKS = {
    "import without subnet ids": (
        "environments.prod.network", {"mode": "import", "vpc_id": VPC},
        ["environment 'prod'", "section 'network'", "import needs subnet_ids", "synth looks nothing up"],
    ),
    "import without the VPC": (
        "environments.prod.network", {"mode": "import", "subnet_ids": SUBNETS},
        ["environment 'prod'", "import needs vpc_id"],
    ),
    "subnets given as names": (
        "environments.prod.network", {**IMPORT, "subnet_ids": ["private-a", SUBNETS[1]]},
        ["environment 'prod'", "key 'network.subnet_ids.0' has value 'private-a'", "subnet id like", "not a name"],
    ),
    "a security group given as a name": (
        "environments.prod.network", {**IMPORT, "security_group_ids": ["jobs"]},
        ["key 'network.security_group_ids.0' has value 'jobs'", "security group id like 'sg-"],
    ),
    "a VPC given as a name": (
        "environments.prod.network", {**IMPORT, "vpc_id": "platform-vpc"},
        ["key 'network.vpc_id' has value 'platform-vpc'", "VPC id like 'vpc-"],
    ),
    "fewer than two zones for create": (
        "environments.prod.network.availability_zones", 1,
        ["environment 'prod'", "section 'network'", "availability_zones 1: create needs at least 2"],
    ),
    "a NAT with isolated-only subnets": (
        "environments.prod.network.nat_gateways", 1,
        ["environment 'prod'", "section 'network'", "nat_gateways 1 with subnet_type 'isolated'", "no route"],
    ),
    "egress subnets without a NAT": (
        "environments.prod.network.subnet_type", "private-with-egress",
        ["subnet_type 'private-with-egress' needs nat_gateways >= 1"],
    ),
    "more NAT gateways than zones": (
        "environments.prod.network", {"mode": "create", "subnet_type": "private-with-egress", "nat_gateways": 3},
        ["nat_gateways 3 exceeds availability_zones 2"],
    ),
    "import ids in create mode": (
        "environments.prod.network.vpc_id", VPC, ["are for mode 'import', not 'create'"],
    ),
    "a public range": (
        "environments.prod.network.cidr", "8.8.0.0/16", ["key 'network.cidr' has value '8.8.0.0/16'", "private range"],
    ),
    "a range too small for the subnets": (
        "environments.prod.network.cidr", "10.40.0.0/26", ["has value '10.40.0.0/26'", "/16 to /22"],
    ),
    "not a range": ("environments.prod.network.cidr", "10.40.0.300/16", ["CIDR notation"]),
    "an unknown endpoint": (
        "environments.prod.network.interface_endpoints", [*INTERFACE_ENDPOINTS, "s3"],
        ["key 'network.interface_endpoints.15' has value 's3'"],
    ),
    "a required endpoint left out": (
        "environments.prod.network.interface_endpoints", ["sagemaker-api", "sagemaker-runtime"],
        ["environment 'prod'", "network.interface_endpoints lacks sagemaker-featurestore-runtime",
         "IngestFeatures (BatchGetRecord, PutRecord)", "time out"],
    ),
    "the endpoint for bucket policies without a VPC of the platform's": (
        "environments.prod.network", {**IMPORT, "require_vpc_endpoint_for_s3": True},
        ["require_vpc_endpoint_for_s3 needs mode 'create'"],
    ),
    "a VPC for a serverless endpoint": (
        "environments.dev.network.mode", "create",
        ["environment 'dev'", "network.mode 'create' needs inference.mode 'instance'", "serverless"],
    ),
    "no reserved concurrency": (
        "environments.prod.functions.reserved_concurrency.smoke_test", 0,
        ["key 'functions.reserved_concurrency.smoke_test' has value 0"],
    ),
}  # fmt: skip


@pytest.mark.parametrize(("path", "value", "expected"), BAD_NETWORKS.values(), ids=BAD_NETWORKS.keys())
def test_bad_network_input_is_refused_naming_the_key_and_the_reason(
    tmp_path: Path, path: str, value: Any, expected: list[str]
) -> None:
    refused(tmp_path, edited(path, value), expected)


def test_synth_refuses_import_without_subnets_with_exit_code_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import app

    data = edited("environments.staging.network", {"mode": "import", "vpc_id": VPC})
    monkeypatch.setenv("MLOPS_CONFIG", str(write(tmp_path, data)))
    assert app.main() == 1
    err = capsys.readouterr().err
    assert "environment 'staging'" in err
    assert "import needs subnet_ids" in err


def test_shipped_dev_has_no_network_and_staging_and_prod_create_one(platform_config: PlatformConfig) -> None:
    modes = {name: env.network.mode for name, env in platform_config.environments.items()}
    assert modes == {"dev": "none", "staging": "create", "prod": "create"}
    for name in ("staging", "prod"):
        network = platform_config.environment(name).network
        assert network.availability_zones >= 2
        assert (network.subnet_type, network.nat_gateways) == ("isolated", 0)


def test_import_with_ids_loads(tmp_path: Path) -> None:
    network = load_config(write(tmp_path, edited("environments.prod.network", IMPORT))).environment("prod").network
    assert (network.mode, network.vpc_id, network.subnet_ids) == ("import", VPC, SUBNETS)


def test_the_tracking_endpoint_is_required_only_with_experiment_tracking(tmp_path: Path) -> None:
    assert "sagemaker-experiments" in required_endpoints(experiment_tracking=True)
    assert "sagemaker-experiments" not in required_endpoints(experiment_tracking=False)
    data = edited("environments.prod.experiment_tracking.enabled", False)
    endpoints = required_endpoints(experiment_tracking=False)
    data["environments"]["prod"]["network"]["interface_endpoints"] = endpoints
    assert load_config(write(tmp_path, data)).environment("prod").network.interface_endpoints == endpoints
    data["environments"]["prod"]["experiment_tracking"]["enabled"] = True
    refused(tmp_path, data, ["lacks sagemaker-experiments", "MLflow logging"])


def test_ingestion_in_a_vpc_environment_must_name_its_own_network(tmp_path: Path) -> None:
    from tests.conftest import INGESTION_SECTION

    without = {k: v for k, v in INGESTION_SECTION.items() if k != "network"}
    refused(
        tmp_path,
        edited("environments.staging.ingestion", without),
        ["ingestion.network is required with network.mode 'create'", "admits HTTPS only"],
    )
    loaded = load_config(write(tmp_path, edited("environments.staging.ingestion", INGESTION_SECTION)))
    assert loaded.environment("staging").ingestion is not None
