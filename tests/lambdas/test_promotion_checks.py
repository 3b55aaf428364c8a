"""The promotion's checks (lambdas/promotion_checks): the artifact digest and the champion/challenger figures.

The gate must measure exactly what the training pipeline's evaluation measures (`pipeline_code.metrics`), or a
candidate and a champion would be compared on other terms than the quality gate that registered them: both are
computed here on the same random data and must agree.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lambdas.promotion_checks import handler as checks
from pipeline_code import metrics


class FakeS3:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        return {"Body": io.BytesIO(self.objects[f"s3://{Bucket}/{Key}"])}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_and_cost_are_those_of_the_training_pipelines_evaluation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, 500)
    score = np.round(np.clip(label * 0.3 + rng.random(500) * 0.7, 0, 1), 2)  # ties included
    assert checks.auc(label.tolist(), score.tolist()) == pytest.approx(roc_auc_score(label, score), abs=1e-12)
    expected = metrics.cost_optimal_threshold(label, score, 1.0, 5.0)["expected_cost_per_1000"]
    assert checks.cost_per_1000(label.tolist(), score.tolist(), 1.0, 5.0) == pytest.approx(expected, abs=1e-9)


def _gate(candidate: str, champion: str | None) -> dict[str, Any]:
    objects = {"s3://b/candidate.out": candidate.encode()}
    if champion is not None:
        objects["s3://b/champion.out"] = champion.encode()
    event = {
        "check": "gate", "candidate_uri": "s3://b/candidate.out",
        "champion_uri": "s3://b/champion.out" if champion is not None else "",
        "false_positive_cost": 1.0, "false_negative_cost": 5.0, "max_auc_drop": 0.01,
        "max_cost_increase_per_1000": 5.0, "labels": ["<=50K", ">50K"],
    }  # fmt: skip
    return checks.run(event, s3=FakeS3(objects))


# the gate's transform output: each raw row's label word (the test file's may end in a dot), then its probability
PERFECT = "<=50K,0.1\n>50K,0.9\n<=50K.,0.2\n>50K.,0.8\n"
CONSTANT = "<=50K,0.5\n>50K,0.5\n<=50K,0.5\n>50K,0.5\n"


def test_without_a_champion_the_candidate_passes() -> None:
    verdict = _gate(CONSTANT, None)
    assert verdict["passed"] is True
    assert verdict["champion"] is None
    assert "first model" in verdict["summary"]
    assert verdict["metadata"]["gate_champion"] == "none"


def test_a_worse_candidate_fails_naming_both_figures_and_an_equal_one_passes() -> None:
    refused = _gate(CONSTANT, PERFECT)
    assert refused["passed"] is False
    assert "AUC 0.5000 is more than 0.01 below the live model's 1.0000" in refused["summary"]
    assert "cost/1000 500.00 is more than 5.0 above the live model's 0.00" in refused["summary"]
    assert refused["metadata"]["gate_champion_auc"] == "1.0000"
    assert _gate(PERFECT, PERFECT)["passed"] is True


def test_scores_of_other_rows_or_garbage_are_refused() -> None:
    with pytest.raises(checks.CheckError, match="not the same data"):
        _gate(PERFECT, PERFECT + "<=50K,0.3\n")
    with pytest.raises(checks.CheckError, match="is not 'label,probability'"):
        _gate("<=50K,not a number\n", None)
    with pytest.raises(checks.CheckError, match=r"the label must be one of \['<=50K', '>50K'\]"):
        _gate("0,0.1\n1,0.9\n", None)  # codes are not the raw test split's labels
    with pytest.raises(checks.CheckError, match="both classes"):
        _gate("<=50K,0.1\n<=50K,0.2\n", None)


def test_the_digest_must_match_across_copies_and_the_recorded_one() -> None:
    s3 = FakeS3({"s3://a/m": b"model", "s3://b/m": b"model", "s3://c/m": b"other"})
    digest = hashlib.sha256(b"model").hexdigest()
    assert checks.digest(["s3://a/m", "s3://b/m"], "", s3=s3) == {"sha256": digest}
    assert checks.digest(["s3://a/m"], digest, s3=s3) == {"sha256": digest}
    with pytest.raises(checks.CheckError, match="differs from its source"):
        checks.digest(["s3://a/m", "s3://c/m"], "", s3=s3)
    with pytest.raises(checks.CheckError, match="not the bytes it validated"):
        checks.digest(["s3://c/m"], digest, s3=s3)
