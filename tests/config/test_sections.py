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
    # scale-out: a step that cannot shard is refused with its reason, never replicated
    "a step that cannot shard given instances": (
        "environments.prod.scale_out", {"Preprocess": 4, "EvaluateModel": 2},
        ["environment 'prod'", "scale_out.EvaluateModel: EvaluateModel cannot run on several instances", "rank every test row"],
    ),
    "an unknown step given instances": (
        "environments.prod.scale_out", {"Preproces": 2},
        ["scale_out.Preproces: no step named 'Preproces'", "ValidateData, Preprocess"],
    ),
    "a count of no instances": ("environments.dev.scale_out", {"ValidateData": 0}, ["scale_out.ValidateData: 0 is not an instance count"]),
    "processing jobs replicated on several instances": (
        "defaults.processing.instance_count", 2,
        ["environment 'dev'", "processing.instance_count is 2", "EvaluateModel: AUC", "keep processing.instance_count at 1"],
    ),
    "custom monitoring replicated on several instances": (
        "defaults.monitoring.instance_count", 3, ["monitoring.instance_count is 3", "GatherMonitoringInputs: it gathers one window"],
    ),
    "distributed training on fewer train objects than instances": (
        "environments.prod.training.instance_count", 2,
        ["environment 'prod'", "training.instance_count is 2", "set scale_out.Preprocess to at least 2"],
    ),
    "capture from a serverless endpoint": ("environments.dev.monitoring", {"source": "capture"}, ["environment 'dev'", "serverless endpoints support no data capture"]),
    "model-monitor without its baselines": ("environments.staging.monitoring", {"backend": "model-monitor"}, ["environment 'staging'", "monitoring.backend 'model-monitor' needs pipeline.native_checks true"]),
    "model-monitor on a serverless endpoint": ("environments.dev.monitoring", {"backend": "model-monitor", "source": "batch"}, ["environment 'dev'", "native_checks true", "and inference.mode 'instance'"]),
    # promotion: where models come from, and what SageMaker would refuse of a guarded update
    "a source environment that does not exist": (
        "environments.staging.promotion.source", "qa",
        ["environment 'staging'", "key 'promotion.source' has value 'qa'", "'own', 'dev', 'staging' or 'prod'"],
    ),
    "an environment its own source": ("environments.staging.promotion.source", "staging", ["environment 'staging'", "names the environment itself"]),
    "sources that form a cycle": (
        "environments.dev.promotion", {"source": "prod"},
        ["environment 'dev'", "key 'promotion.source' has value 'prod'", "cycle (dev -> prod -> staging -> dev)"],
    ),
    "a source without an account": ("environments.dev.account", None, ["environment 'staging'", "set environments.dev.account"]),
    "a source that does not grant the consumer": (
        "environments.dev.model_registry.cross_account_readers", [],
        ["environment 'staging'", "environments.dev.model_registry.cross_account_readers must include 222222222222"],
    ),
    "a canary above 50 %": (
        "environments.staging.promotion.guardrails.canary_size_percent", 60,
        ["environment 'staging'", "key 'promotion.guardrails.canary_size_percent' has value 60", "at most 50 %"],
    ),
    "a wait interval out of range": (
        "environments.staging.promotion.guardrails.wait_interval_seconds", 4000,
        ["key 'promotion.guardrails.wait_interval_seconds' has value 4000", "between 0 and 3600 seconds"],
    ),
    "a linear step out of range": (
        "environments.prod.promotion.guardrails.linear_step_percent", 5,
        ["environment 'prod'", "key 'promotion.guardrails.linear_step_percent' has value 5", "10 % to 50 %"],
    ),
    "a canary size on a linear update": (
        "environments.prod.promotion.guardrails.canary_size_percent", 10,
        ["section 'promotion.guardrails'", "traffic_routing 'linear' takes no canary_size_percent"],
    ),
    "an update timeout shorter than its waits": (
        "environments.prod.promotion.guardrails.max_execution_timeout_seconds", 1200,
        ["section 'promotion.guardrails'", "must be at least the 2 wait interval(s) of 600 s plus termination_wait_seconds (1500 s)"],
    ),
    "a promotion that gives up before the update": (
        "environments.prod.promotion.in_service_timeout_minutes", 30,
        ["section 'promotion'", "shorter than guardrails.max_execution_timeout_seconds (3600 s)"],
    ),
    "guardrails on a serverless endpoint": (
        "environments.dev.promotion.guardrails",
        {"traffic_routing": "all_at_once", "wait_interval_seconds": 60, "termination_wait_seconds": 0, "max_execution_timeout_seconds": 600},
        ["environment 'dev'", "promotion.guardrails needs inference.mode 'instance'", "serverless endpoints no deployment guardrails"],
    ),
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
