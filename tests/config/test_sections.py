"""Checks across keys (config.sections): what no single value can say wrong, named with the section and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import load_config
from tests.config.editing import DELETE, edited, refused, shipped, write

BAD_SECTIONS = {
    "missing key": ("defaults.thresholds.min_f1", DELETE, ["key 'thresholds.min_f1' is missing"]),
    "unknown key": (
        "environments.dev.training.instance_typ", "ml.m5.large",
        ["environment 'dev'", "key 'training.instance_typ' is not allowed", "instance_type"],
    ),
    "account missing outside dev": ("environments.staging.account", None, ["environment 'staging'", "account is required"]),
    "glacier before infrequent access": (
        "defaults.data_lake.transition_to_glacier_days", 20,
        ["section 'data_lake'", "transition_to_glacier_days must be greater"],
    ),
    "more parallel tuning jobs than jobs": (
        "environments.prod.tuning.max_parallel_jobs", 50, ["environment 'prod'", "max_parallel_jobs (50) must be <= max_jobs (20)"],
    ),
    "spot wait shorter than runtime": (
        "defaults.training.max_wait_seconds", 600, ["section 'training'", "max_wait_seconds must be >= max_runtime_seconds"],
    ),
    "initial instances beyond the autoscaling bounds": (
        "environments.prod.inference.initial_instance_count", 7, ["environment 'prod'", "section 'inference'", "(got 2, 7, 6)"],
    ),
    "capture from a serverless endpoint": ("environments.dev.monitoring", {"source": "capture"}, ["environment 'dev'", "serverless endpoints support no data capture"]),
    "model-monitor without its baselines": ("environments.staging.monitoring", {"backend": "model-monitor"}, ["environment 'staging'", "monitoring.backend 'model-monitor' needs pipeline.native_checks true"]),
    "model-monitor on a serverless endpoint": ("environments.dev.monitoring", {"backend": "model-monitor", "source": "batch"}, ["environment 'dev'", "native_checks true", "and inference.mode 'instance'"]),
}  # fmt: skip


@pytest.mark.parametrize(("path", "value", "expected"), BAD_SECTIONS.values(), ids=BAD_SECTIONS.keys())
def test_a_bad_combination_fails_naming_the_environment_section_and_rule(
    tmp_path: Path, path: str, value: Any, expected: list[str]
) -> None:
    refused(tmp_path, edited(path, value), expected)


# ------------------------------------------------------------------------------- removal policy 'destroy'


def test_destroy_is_refused_in_prod(tmp_path: Path) -> None:
    data = edited("environments.prod.removal_policy", "destroy")
    data["environments"]["prod"]["termination_protection"] = False  # prod alone is reason enough
    message = refused(
        tmp_path,
        data,
        ["environment 'prod'", "removal_policy 'destroy' is refused because the environment is prod", "'retain'"],
    )
    assert "termination_protection" not in message


def test_destroy_is_refused_with_termination_protection(tmp_path: Path) -> None:
    data = edited("environments.staging.removal_policy", "destroy")
    data["environments"]["staging"]["termination_protection"] = True
    message = refused(
        tmp_path,
        data,
        ["environment 'staging'", "removal_policy 'destroy' is refused because termination_protection is true"],
    )
    assert "environment is prod" not in message


def test_destroy_is_refused_for_both_reasons_at_once(tmp_path: Path) -> None:
    # The shipped prod has termination protection: both reasons are named, in one line.
    refused(
        tmp_path,
        edited("environments.prod.removal_policy", "destroy"),
        ["because the environment is prod and termination_protection is true"],
    )


def test_dev_with_destroy_still_loads(tmp_path: Path) -> None:
    data = edited("environments.dev.removal_policy", "destroy")
    assert load_config(write(tmp_path, data)).environment("dev").is_destroyable


# --------------------------------------------------------------------------------- endpoint autoscaling


def test_a_burstable_endpoint_that_would_autoscale_is_refused(tmp_path: Path) -> None:
    refused(
        tmp_path,
        edited("environments.prod.inference.instance_type", "ml.t3.large"),
        ["environment 'prod'", "section 'inference'", "'ml.t3.large'", "does not autoscale burstable", "(got 2 and 6)"],
    )


@pytest.mark.parametrize(
    ("environment", "inference"),
    [
        ("prod", {"instance_type": "ml.t3.large", "min_capacity": 2, "max_capacity": 2}),  # fixed capacity
        ("dev", {"instance_type": "ml.t3.large"}),  # serverless: the instance type is for batch transform only
    ],
)
def test_a_burstable_endpoint_without_autoscaling_loads(
    tmp_path: Path, environment: str, inference: dict[str, Any]
) -> None:
    data = shipped()
    data["environments"][environment].setdefault("inference", {}).update(inference)
    assert load_config(write(tmp_path, data)).environment(environment).inference.instance_type == "ml.t3.large"
