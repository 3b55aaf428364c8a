"""Two checks of the promotion state machine that need to read objects: the artifact's digest and the
champion/challenger gate. Standard library and boto3 only (the Lambda runtime's).

`{"check": "digest", "uris": [...], "expected": "<hex or ''>"}`: the SHA-256 of each object (streamed); they must
all be equal, and equal to `expected` when one is given (the digest the source environment recorded). The answer
is `{"sha256": ...}`; any difference raises `CheckError`, whose message becomes the rejection reason.

`{"check": "gate", "candidate_uri": ..., "champion_uri": "<uri or ''>", "labels": [negative, positive], ...costs
and margins}`: the outputs of the two batch transform jobs that scored the candidate and the live model (the
champion) on the same held-out raw rows, one `label,probability` line per row, the label as the raw data writes it
(one of `labels`, the test file's trailing dot allowed). Both are measured the same way, as
`pipeline_code.metrics` does in the training pipeline's evaluation: ROC AUC, and the expected cost per 1,000
decisions at each model's own cost-optimal threshold. The candidate passes unless its AUC is lower by more than
`max_auc_drop` or its cost higher by more than `max_cost_increase_per_1000`; without a champion (the first model)
it passes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import boto3

_CHUNK = 1024 * 1024


class CheckError(Exception):
    """A check failed: the state machine rejects the package with this message."""


def _location(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise CheckError(f"not an S3 object URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def sha256_of(s3: Any, uri: str) -> str:
    bucket, key = _location(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def digest(uris: list[str], expected: str, *, s3: Any) -> dict[str, Any]:
    found = {uri: sha256_of(s3, uri) for uri in uris}
    if len(set(found.values())) > 1:
        listed = ", ".join(f"{uri} {value}" for uri, value in found.items())
        raise CheckError(f"the copied artifact differs from its source: {listed}")
    value = next(iter(found.values()))
    if expected and value != expected:
        raise CheckError(
            f"the artifact's sha256 is {value}, the source environment recorded {expected}: not the bytes it validated"
        )
    return {"sha256": value}


# ------------------------------------------------------------------------------------------------- the gate


def labelled_scores(text: str, words: list[str]) -> tuple[list[int], list[float]]:
    """`label,probability` lines (a transform job's output with JoinSource Input and OutputFilter $[-3,-2]), the
    label one of `words` (negative, positive)."""
    labels: list[int] = []
    scores: list[float] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().strip("[]").split(",")
        word = parts[0].strip().strip('"').rstrip(".")
        try:
            score = float(parts[-1])
        except (ValueError, IndexError):
            raise CheckError(f"line {number} is not 'label,probability': {line[:100]!r}") from None
        if word not in words or len(parts) != 2 or not 0.0 <= score <= 1.0:
            raise CheckError(
                f"line {number}: the label must be one of {words} and the probability in [0, 1]: {line[:100]!r}"
            )
        label = words.index(word)
        labels.append(label)
        scores.append(score)
    if not labels or len(set(labels)) < 2:
        raise CheckError("the held-out data needs rows of both classes to measure AUC")
    return labels, scores


def auc(labels: list[int], scores: list[float]) -> float:
    """ROC AUC as the Mann-Whitney statistic, ties counted half (what sklearn's roc_auc_score computes)."""
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(labels)
    negatives = len(labels) - positives
    rank_sum = sum(rank for rank, label in zip(ranks, labels, strict=True) if label == 1)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def cost_per_1000(labels: list[int], scores: list[float], fp_cost: float, fn_cost: float) -> float:
    """The lowest expected cost per 1,000 decisions over every threshold (each distinct score, and above all)."""
    pairs = sorted(zip(scores, labels, strict=True), reverse=True)
    positives = sum(labels)
    false_positives, true_positives = 0, 0
    best = positives * fn_cost  # threshold above every score: everything predicted negative
    i = 0
    while i < len(pairs):
        score = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == score:
            true_positives += pairs[i][1]
            false_positives += 1 - pairs[i][1]
            i += 1
        best = min(best, false_positives * fp_cost + (positives - true_positives) * fn_cost)
    return best / len(labels) * 1000


def _figures(s3: Any, uri: str, words: list[str], fp_cost: float, fn_cost: float) -> dict[str, float]:
    bucket, key = _location(uri)
    labels, scores = labelled_scores(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"), words)
    return {
        "auc": round(auc(labels, scores), 6),
        "cost_per_1000": round(cost_per_1000(labels, scores, fp_cost, fn_cost), 4),
        "rows": len(labels),
    }


def gate(event: dict[str, Any], *, s3: Any) -> dict[str, Any]:
    fp_cost, fn_cost = float(event["false_positive_cost"]), float(event["false_negative_cost"])
    max_drop, max_increase = float(event["max_auc_drop"]), float(event["max_cost_increase_per_1000"])
    words = [str(w) for w in event["labels"]]
    if len(words) != 2 or words[0] == words[1]:
        raise CheckError(f"labels must be [negative, positive]: {words}")
    candidate = _figures(s3, str(event["candidate_uri"]), words, fp_cost, fn_cost)
    metadata = {
        "gate_candidate_auc": f"{candidate['auc']:.4f}",
        "gate_candidate_cost_per_1000": f"{candidate['cost_per_1000']:.2f}",
        "gate_rows": str(candidate["rows"]),
    }
    if not event.get("champion_uri"):
        summary = (
            f"candidate AUC {candidate['auc']:.4f}, cost/1000 {candidate['cost_per_1000']:.2f} on "
            f"{candidate['rows']} held-out rows; no live model to compare with (first model): passed"
        )
        metadata["gate_champion"] = "none"
        return {"passed": True, "candidate": candidate, "champion": None, "summary": summary, "metadata": metadata}
    champion = _figures(s3, str(event["champion_uri"]), words, fp_cost, fn_cost)
    if champion["rows"] != candidate["rows"]:
        raise CheckError(f"the two models scored {candidate['rows']} and {champion['rows']} rows: not the same data")
    failures = []
    if candidate["auc"] < champion["auc"] - max_drop:
        failures.append(
            f"AUC {candidate['auc']:.4f} is more than {max_drop} below the live model's {champion['auc']:.4f}"
        )
    if candidate["cost_per_1000"] > champion["cost_per_1000"] + max_increase:
        failures.append(
            f"cost/1000 {candidate['cost_per_1000']:.2f} is more than {max_increase} above the live model's "
            f"{champion['cost_per_1000']:.2f}"
        )
    figures = (
        f"candidate AUC {candidate['auc']:.4f}, cost/1000 {candidate['cost_per_1000']:.2f}; live model AUC "
        f"{champion['auc']:.4f}, cost/1000 {champion['cost_per_1000']:.2f} (same {candidate['rows']} held-out rows)"
    )
    summary = f"{figures}: " + ("; ".join(failures) if failures else "passed")
    metadata |= {
        "gate_champion_auc": f"{champion['auc']:.4f}",
        "gate_champion_cost_per_1000": f"{champion['cost_per_1000']:.2f}",
    }
    return {
        "passed": not failures,
        "candidate": candidate,
        "champion": champion,
        "summary": summary,
        "metadata": metadata,
    }


def run(event: dict[str, Any], *, s3: Any) -> dict[str, Any]:
    check = event.get("check")
    if check == "digest":
        return digest([str(u) for u in event["uris"]], str(event.get("expected") or ""), s3=s3)
    if check == "gate":
        return gate(event, s3=s3)
    raise CheckError(f"unknown check {check!r}: digest or gate")


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return run(event, s3=boto3.client("s3"))
