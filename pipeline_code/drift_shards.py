"""The drift check on several instances: each shard's tallies and scores, saved, and merged into one check.

A shard (``drift --shard-output``) reads its share of the current data once, as the one-instance check does
(`drift.count_current`), and saves what every test needs: the tallies of each feature in the baseline's support
(bucket counts, sums within gaps, missing), category and label counts, and with a model the scores, labels and
facet codes of its rows (6 bytes a row, as the one-instance check keeps them) and its attribution sample (the
rows with the smallest hash keys). ``drift --parts`` merges them: counts add up, scores concatenate, the samples'
union keeps the smallest keys (the sample of the whole data), and the tests run on the merge
(`drift.finish_check`). The counts, scores and samples are those of one instance; the only difference is the
order in which floating-point sums within gaps were added (a relative difference of about 1e-16 in a
Wasserstein distance), which changes no verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline_code import schema, tabular
from pipeline_code.artifacts import read_json, write_json
from pipeline_code.drift import CurrentCounts, RowSample, Scored, Thresholds
from pipeline_code.shards import part_folders

PART = "drift_part.json"
ARRAYS = "drift_part.npz"


def save_part(out: Path, counts: CurrentCounts, current: Scored | None) -> None:
    arrays: dict[str, np.ndarray] = {"label_counts": counts.label_counts}
    for name, buckets in counts.numeric_buckets.items():
        arrays[f"buckets:{name}"] = np.asarray(buckets)
        arrays[f"gaps:{name}"] = np.asarray(counts.numeric_gap_sums[name])
    for name, values in counts.categorical.items():
        arrays[f"categorical:{name}"] = np.asarray(values)
    if current is not None:
        arrays |= {"score": current.score, "facets": current.facets, "sample": current.sample}
        arrays["sample_keys"] = current.sample_keys
        if current.label is not None:
            arrays["label"] = current.label
    np.savez(out / ARRAYS, **arrays)  # type: ignore[arg-type]
    write_json(
        out / PART,
        {
            "rows": counts.rows,
            "labelled": counts.labelled,
            "numeric_missing": counts.numeric_missing,
            "scored": current is not None,
        },
    )


def load_parts(root: Path | str, baseline: dict[str, Any], limits: Thresholds) -> tuple[CurrentCounts, Scored | None]:
    """Every host's part under ``root``, merged: the tallies and scores one instance would have counted."""
    counts = CurrentCounts(baseline)
    scores: list[np.ndarray] = []
    labels: list[np.ndarray | None] = []
    facets: list[np.ndarray] = []
    sample = RowSample(limits.attribution_rows, seed=len(schema.FEATURES))
    scored = set()
    for folder in part_folders(root, PART):
        part = read_json(folder / PART)
        scored.add(bool(part["scored"]))
        with np.load(folder / ARRAYS) as arrays:
            counts.rows += int(part["rows"])
            counts.label_counts = counts.label_counts + arrays["label_counts"]
            for name, missing in part["numeric_missing"].items():
                counts.numeric_missing[name] = counts.numeric_missing.get(name, 0) + int(missing)
                counts.numeric_buckets[name] = counts.numeric_buckets.get(name, 0) + arrays[f"buckets:{name}"]
                counts.numeric_gap_sums[name] = counts.numeric_gap_sums.get(name, 0) + arrays[f"gaps:{name}"]
            for key in arrays.files:
                if key.startswith("categorical:"):
                    name = key.split(":", 1)[1]
                    counts.categorical[name] = counts.categorical.get(name, 0) + arrays[key]
            if part["rows"]:  # a shard given no row says nothing about labels
                counts.labelled = counts.labelled and bool(part["labelled"])
                if part["scored"]:
                    scores.append(arrays["score"])
                    labels.append(arrays["label"] if "label" in arrays.files else None)
                    facets.append(arrays["facets"])
                    sample.merge(arrays["sample_keys"], arrays["sample"])
    if len(scored) > 1:
        raise ValueError("some drift parts hold scores and others not: the shards ran with different --model")
    if scored != {True}:
        return counts, None
    if not scores:
        return counts, Scored(
            np.empty(0, np.float32), None, np.empty((0, len(schema.FACETS)), np.int8), sample.rows, sample.keys
        )
    return counts, Scored(
        np.concatenate(scores), tabular.concat_labels(labels), np.concatenate(facets), sample.rows, sample.keys
    )
