"""1, 2 and 4 shards of the same Adult data give the same results (pipeline_code.partials, merge, drift_shards).

Each shard runs the step's own entry point on its share of the objects (round-robin in key order, as
ShardedByS3Key deals them) with ``--shard-output`` and its host name, and the merge runs as the merge step does.
Cheap: a slice of Adult (4,000 rows of each file) in 8 objects for validation and preprocessing; the drift check
reads the session's run (its test split, shifted, in 8 objects) with the model, so every kind of test runs.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline_code import drift, local_run, merge, preprocess, train, validate
from pipeline_code.errors import DataValidationError, PipelineError
from pipeline_code.shards import current_host
from pipeline_definition.local_runner.s3io import deal_files

SLICE = 4000
OBJECTS = 8
SHARDS = (1, 2, 4)


def _rows(root: Path) -> list[str]:
    return sorted(line for path in root.rglob("*.csv") for line in path.read_text().splitlines())


@pytest.fixture(scope="module")
def raw_objects(adult_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A slice of both Adult files (header and comment lines as shipped) in OBJECTS objects."""
    out = tmp_path_factory.mktemp("objects")
    for name in ("adult.data.gz", "adult.test.gz"):
        with gzip.open(adult_dir / name, "rt") as handle:
            lines = handle.read().splitlines(keepends=True)
        head, body = (lines[:1], lines[1:]) if lines[0].startswith("|") else ([], lines)
        body = body[:SLICE]
        for part in range(OBJECTS // 2):
            (out / f"{name[:-3]}.part{part}.csv").write_text("".join(head + body[part :: OBJECTS // 2]))
    return out


@pytest.fixture(scope="module")
def sharded_runs(raw_objects: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Validation and preprocessing of the objects on 1, 2 and 4 shards, each merged."""
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        for count in SHARDS:
            out = tmp_path_factory.mktemp(f"shards{count}")
            folders = deal_files(raw_objects, out / "input", count)
            if count == max(SHARDS):  # one more instance than objects to go round: it is given none
                folders.append(out / "input" / "algo-9")
                folders[-1].mkdir()
            for folder in folders:
                patch.setenv("SM_CURRENT_HOST", folder.name)
                assert validate.main(["--input", str(folder), "--output", str(out / "parts"), "--shard-output"]) == 0
                assert preprocess.main(["--input", str(folder), "--output", str(out / "pre"), "--shard-output"]) == 0
            assert merge.main(["validation", "--parts", str(out / "parts"), "--output", str(out / "validation")]) == 0
            merge_args = ["--manifest", str(out / "pre" / "manifest"), "--baseline", str(out / "pre" / "baseline")]
            raw_test = ["--raw-test", str(out / "pre" / "raw_test")]
            assert merge.main(["preprocess", *merge_args, *raw_test, "--output", str(out / "merged")]) == 0
            runs[count] = out
    return runs


@pytest.fixture(scope="module")
def one_instance(raw_objects: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same objects through the steps as one instance runs them (no --shard-output)."""
    out = tmp_path_factory.mktemp("one")
    assert validate.main(["--input", str(raw_objects), "--output", str(out / "validation")]) == 0
    assert preprocess.main(["--input", str(raw_objects), "--output", str(out / "pre")]) == 0
    return out


def test_validation_reports_are_identical(one_instance: Path, sharded_runs: dict[int, Path]) -> None:
    expected = json.loads((one_instance / "validation" / "validation_report.json").read_text())
    assert expected["row_count"] > 1.99 * SLICE
    for count, run in sharded_runs.items():
        assert json.loads((run / "validation" / "validation_report.json").read_text()) == expected, count


def test_baselines_and_lineage_are_identical(one_instance: Path, sharded_runs: dict[int, Path]) -> None:
    for name in ("baseline/baseline.json", "manifest/lineage.json", "manifest/feature_manifest.json"):
        expected = json.loads((one_instance / "pre" / name).read_text())
        for count, run in sharded_runs.items():
            assert json.loads((run / "merged" / name).read_text()) == expected, (count, name)


def test_preprocess_outputs_are_the_same_rows(one_instance: Path, sharded_runs: dict[int, Path]) -> None:
    for split in (*preprocess.SPLITS, preprocess.RAW_TEST):
        expected = _rows(one_instance / "pre" / split)
        assert len(expected) > SLICE // 10, split
        for count, run in sharded_runs.items():
            assert _rows(run / "pre" / split) == expected, (count, split)
    for count, run in sharded_runs.items():  # the merged raw test split: one file, every host's rows
        assert _rows(run / "merged" / "raw_test") == _rows(one_instance / "pre" / preprocess.RAW_TEST), count


def test_violations_found_on_shards_are_the_ones_found_on_one_instance(
    raw_objects: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "objects"
    shutil.copytree(raw_objects, bad)
    for index, path in enumerate(sorted(bad.iterdir())[1::3]):  # an unseen category and a non-number, in 3 objects
        text = path.read_text().replace(" Private,", f" Privat{index},", 3).replace(", 40,", ", forty,", 1)
        path.write_text(text)
    with pytest.raises(DataValidationError) as one:
        validate.validate(sorted(bad.iterdir()), validate.Limits(), bad)
    for folder in deal_files(bad, tmp_path / "input", 4):
        monkeypatch.setenv("SM_CURRENT_HOST", folder.name)
        assert validate.main(["--input", str(folder), "--output", str(tmp_path / "parts"), "--shard-output"]) == 0
    with pytest.raises(DataValidationError) as sharded:
        merge.merge_validation(tmp_path / "parts", validate.Limits(), None)
    assert "Privat0" in str(one.value)
    assert "forty" in str(one.value)
    assert str(sharded.value) == str(one.value)


def _verdicts(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["check"], str(v.get("feature", v.get("group", "")))) for v in report["violations"]]


def _close(a: Any, b: Any, where: str = "") -> None:
    """Equal, except floats within 1e-9 relative (sums within gaps add up in another order)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert np.isclose(a, b, rtol=1e-9, atol=1e-12), (where, a, b)
    else:
        assert a == b, where


def test_drift_verdicts_and_statistics_are_the_same_on_shards(run_dir: Path, tmp_path: Path) -> None:
    pre = run_dir / "preprocess"
    shifted = local_run.write_shifted(pre / "test", tmp_path / "shifted", "numeric")
    lines = shifted.read_text().splitlines(keepends=True)
    objects = tmp_path / "objects"
    objects.mkdir()
    for part in range(OBJECTS):
        (objects / f"part-{part}.csv").write_text("".join(lines[part::OBJECTS]))
    common = [
        *("--baseline", str(pre / "baseline" / "baseline.json"), "--model", str(run_dir / "model")),
        "--attribution-rows",
        "300",
    ]
    reference = ["--reference", str(pre / "validation")]
    assert drift.main([*common, *reference, "--data", str(objects), "--output", str(tmp_path / "one")]) == 0
    expected = json.loads((tmp_path / "one" / "drift_report.json").read_text())
    assert _verdicts(expected)  # a shift the check flags: the verdicts compared are not all empty
    with pytest.MonkeyPatch.context() as patch:
        for count in (2, 4):
            parts = tmp_path / f"parts{count}"
            for folder in deal_files(objects, tmp_path / f"input{count}", count):
                patch.setenv("SM_CURRENT_HOST", folder.name)
                assert drift.main([*common, "--data", str(folder), "--output", str(parts), "--shard-output"]) == 0
            merged = tmp_path / f"merged{count}"
            assert drift.main([*common, *reference, "--parts", str(parts), "--output", str(merged)]) == 0
            report = json.loads((merged / "drift_report.json").read_text())
            assert _verdicts(report) == _verdicts(expected), count
            _close(report, expected, f"shards={count}")


def test_a_shard_without_a_host_name_stops_naming_where_it_looked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SM_CURRENT_HOST", raising=False)
    with pytest.raises(PipelineError, match=r"SM_CURRENT_HOST nor .*resourceconfig\.json"):
        current_host(tmp_path / "resourceconfig.json")
    (tmp_path / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-3", "hosts": ["algo-1"]}))
    assert current_host(tmp_path / "resourceconfig.json") == "algo-3"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _auc(model: Path, test: Path) -> float:
    from sklearn.metrics import roc_auc_score

    from pipeline_code import tabular

    batch = tabular.read_processed(test)
    return float(roc_auc_score(batch.label, train.predict_proba(train.load_model(model), batch.features)))


def test_two_workers_of_xgboost_distributed_mode_train_within_0_005_auc_of_one(run_dir: Path, tmp_path: Path) -> None:
    """Two `train` processes as two hosts of one training job (each a share of the train split's objects, the
    first one running XGBoost's tracker) against one process on all of it, with the same hyper-parameters."""
    pre = run_dir / "preprocess"
    lines = next((pre / "train").rglob("*.csv")).read_text().splitlines(keepends=True)
    common = [
        *("--validation", str(pre / "validation"), "--manifest", str(pre / "manifest")),
        *("--num_round", "25", "--nthread", "1"),
    ]
    hosts = ["algo-1", "algo-2"]
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "SM_HOSTS": json.dumps(hosts),
        "MLOPS_TRACKER_HOST": "127.0.0.1",
        "MLOPS_TRACKER_PORT": str(_free_port()),
    }
    workers = []
    for index, host in enumerate(hosts):
        share = tmp_path / host / "train"
        share.mkdir(parents=True)
        (share / "part.csv").write_text("".join(lines[index::2]))
        command = [sys.executable, "-m", "pipeline_code.train", "--train", str(share), *common]
        command += ["--model-dir", str(tmp_path / host / "model")]
        workers.append(
            subprocess.Popen(command, env={**env, "SM_CURRENT_HOST": host}, stdout=subprocess.PIPE, text=True)
        )
    outputs = [worker.communicate(timeout=240)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert "validation-auc:" in outputs[0]
    assert "worker algo-2 of 2 done" in outputs[1]
    assert not (tmp_path / "algo-2" / "model" / "xgboost-model.json").exists()  # only the first host saves
    # one process: this one
    assert train.main(["--train", str(pre / "train"), *common, "--model-dir", str(tmp_path / "one")]) == 0
    distributed, single = _auc(tmp_path / "algo-1" / "model", pre / "test"), _auc(tmp_path / "one", pre / "test")
    assert single > 0.9
    assert abs(distributed - single) < 0.005, (distributed, single)
