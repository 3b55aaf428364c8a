"""GitOps for ML code against moto: a change of pipeline_code/ starts one training run, nothing else does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdas.shared.adapters import DataSnapshots
from naming import EnvironmentNames
from pipeline_definition import contract
from release.aws import Clients, ParameterStore, TrainingPipelines
from release.code_change_trigger import LastRun, content_hash, decide, main, trigger
from release.environment import UsageError
from tests.release.conftest import REGION

DECLARED = ("Trigger", "TriggerDetail", "InputManifestUri", "CodeVersion")


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "pipeline_code"
    (root / "steps").mkdir(parents=True)
    (root / "train.py").write_text("def train():\n    return 1\n")
    (root / "steps" / "evaluate.py").write_text("THRESHOLD = 0.8\n")
    return root


def _training_pipeline(clients: Clients, name: str, parameters: tuple[str, ...] = DECLARED):
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": p, "Type": "String", "DefaultValue": "manual"} for p in parameters],
        "Steps": [],
    }
    clients.sagemaker.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn="arn:aws:iam::123456789012:role/sm"
    )


def _executions(clients: Clients, name: str) -> list[dict]:
    return clients.sagemaker.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]


@pytest.fixture
def zones(clients: Clients, unique: str) -> dict[str, str]:
    """A raw zone holding the Adult file, an empty artifacts zone, and the step's snapshot settings."""
    names = {zone: f"mlops-{unique}-{zone}" for zone in ("raw", "artifacts")}
    for bucket in names.values():
        clients.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    clients.s3.put_object(Bucket=names["raw"], Key="adult/adult.data", Body=b"age, workclass\n39, State-gov\n")
    return {
        "RAW_BUCKET_NAME": names["raw"],
        "SNAPSHOT_PREFIXES": ",".join(EnvironmentNames("mlops", "dev").snapshot_prefixes),
        "SNAPSHOTS_URI": f"s3://{names['artifacts']}/{contract.DATA_SNAPSHOT_PREFIX}/",
    }


def _run(clients: Clients, name: str, code: Path, commit: str, zones: dict[str, str]) -> tuple[bool, str]:
    decision = trigger(
        pipeline=name,
        parameter=f"/mlops/dev/release/{name}",
        code_dir=code,
        commit=commit,
        pipelines=TrainingPipelines(clients),
        ledger=ParameterStore(clients),
        snapshots=DataSnapshots(
            raw_bucket=zones["RAW_BUCKET_NAME"],
            prefixes=zones["SNAPSHOT_PREFIXES"].split(","),
            snapshots_uri=zones["SNAPSHOTS_URI"],
            client=clients.s3,
        ),
    )
    return decision.start, decision.reason


def _parameters(clients: Clients, execution: dict) -> dict[str, str]:
    listed = clients.sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    return {p["Name"]: p["Value"] for p in listed}


# ------------------------------------------------------------------------------------------- content hash


def test_the_hash_is_stable_and_ignores_caches_and_docs(code: Path) -> None:
    before = content_hash(code)
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "train.cpython-312.pyc").write_bytes(b"\x00compiled")
    (code / "steps" / "evaluate.pyc").write_bytes(b"\x00compiled")
    (code / "README.md").write_text("# the steps\n")
    assert content_hash(code) == before
    assert len(before) == 16


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "train.py").write_text("def train():\n    return 2\n"),  # an edit
        lambda root: (root / "train.py").rename(root / "fit.py"),  # a rename with the same bytes
        lambda root: (root / "steps" / "new.py").write_text(""),  # a new, empty file
        lambda root: (root / "steps" / "evaluate.py").unlink(),  # a deletion
    ],
    ids=["edit", "rename", "new-empty-file", "delete"],
)
def test_every_kind_of_change_changes_the_hash(code: Path, change) -> None:
    before = content_hash(code)
    change(code)
    assert content_hash(code) != before


def test_a_missing_or_empty_code_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        content_hash(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no code file"):
        content_hash(tmp_path / "empty")


# ---------------------------------------------------------------------------------------------- decision


LAST = LastRun(code_hash="a" * 16, commit="c0ffee" * 7, execution_arn="arn:exec")


@pytest.mark.parametrize(
    ("code_hash", "last", "declared", "start", "reason"),
    [
        ("b" * 16, LAST, None, False, "does not exist yet"),
        ("b" * 16, None, frozenset(), True, "no code-change run recorded yet"),
        ("a" * 16, LAST, frozenset(), False, "unchanged (hash aaaaaaaaaaaa) since the run for commit c0ffeec0ffee"),
        ("b" * 16, LAST, frozenset(), True, "changed (hash aaaaaaaaaaaa -> bbbbbbbbbbbb)"),
    ],
    ids=["no-pipeline", "first-run", "unchanged", "changed"],
)
def test_decide(code_hash: str, last: LastRun | None, declared, start: bool, reason: str) -> None:
    decision = decide(pipeline="mlops-dev-training", code_hash=code_hash, last=last, declared=declared)
    assert decision.start is start
    assert reason in decision.reason


def test_an_unreadable_record_counts_as_nothing_recorded() -> None:
    assert LastRun.parse("not json") is None
    assert LastRun.parse(json.dumps({"code_hash": "x"})) is None
    assert LastRun.parse(LAST.to_json()) == LAST


# ----------------------------------------------------------------------------------------- against moto


def test_first_release_starts_a_run_that_records_trigger_commit_and_data(
    clients: Clients, unique: str, code: Path, zones: dict[str, str]
) -> None:
    name = f"training-{unique}"
    _training_pipeline(clients, name)
    started, reason = _run(clients, name, code, commit="1234567890abcdef", zones=zones)
    assert started, reason
    (execution,) = _executions(clients, name)
    assert execution["PipelineExecutionDisplayName"] == "code-change-1234567890ab"
    parameters = _parameters(clients, execution)
    manifest_uri = parameters.pop("InputManifestUri")
    assert parameters == {
        "Trigger": "code-change",
        "TriggerDetail": f"commit 1234567890abcdef code {content_hash(code)}",
        "CodeVersion": "1234567890abcdef",
    }
    bucket, _, key = manifest_uri.removeprefix("s3://").partition("/")
    manifest = json.loads(clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert manifest == [{"prefix": f"s3://{zones['RAW_BUCKET_NAME']}/"}, "adult/adult.data"]
    recorded = LastRun.parse(ParameterStore(clients).read(f"/mlops/dev/release/{name}"))
    assert recorded == LastRun(content_hash(code), "1234567890abcdef", execution["PipelineExecutionArn"])


def test_an_unchanged_release_starts_nothing_and_a_changed_one_starts_one_more_run(
    clients: Clients, unique: str, code: Path, zones: dict[str, str]
) -> None:
    name = f"training-{unique}"
    _training_pipeline(clients, name)
    assert _run(clients, name, code, commit="aaa", zones=zones)[0]
    (code / "README.md").write_text("# edited docs\n")  # not deployed: not a code change
    started, reason = _run(clients, name, code, commit="bbb", zones=zones)  # infra-only commit
    assert not started
    assert "unchanged" in reason
    assert len(_executions(clients, name)) == 1
    (code / "train.py").write_text("def train():\n    return 3\n")
    assert _run(clients, name, code, commit="ccc", zones=zones)[0]
    executions = _executions(clients, name)
    assert len(executions) == 2
    # the same data: both runs read the same snapshot
    assert len({_parameters(clients, e)["InputManifestUri"] for e in executions}) == 1
    recorded = LastRun.parse(ParameterStore(clients).read(f"/mlops/dev/release/{name}"))
    assert recorded is not None
    assert recorded.commit == "ccc"


def test_no_pipeline_yet_skips_and_records_nothing(
    clients: Clients, unique: str, code: Path, zones: dict[str, str]
) -> None:
    name = f"training-{unique}"
    started, reason = _run(clients, name, code, commit="aaa", zones=zones)
    assert (started, reason) == (False, f"SageMaker pipeline {name!r} does not exist yet; nothing to re-run")
    assert ParameterStore(clients).read(f"/mlops/dev/release/{name}") is None


def test_only_parameters_the_pipeline_declares_are_passed(
    clients: Clients, unique: str, code: Path, zones: dict[str, str]
) -> None:
    name = f"training-{unique}"
    _training_pipeline(clients, name, parameters=("InputManifestUri", "Trigger"))
    assert _run(clients, name, code, commit="aaa", zones=zones)[0]
    (execution,) = _executions(clients, name)
    assert set(_parameters(clients, execution)) == {"InputManifestUri", "Trigger"}


def test_a_pipeline_without_a_manifest_parameter_is_refused(
    clients: Clients, unique: str, code: Path, zones: dict[str, str]
) -> None:
    name = f"training-{unique}"
    _training_pipeline(clients, name, parameters=("Trigger", "InputDataUri"))
    with pytest.raises(UsageError, match="declares no InputManifestUri"):
        _run(clients, name, code, commit="aaa", zones=zones)
    assert _executions(clients, name) == []


def test_an_empty_raw_zone_starts_nothing_records_nothing_and_names_the_prefixes(
    clients: Clients, unique: str, code: Path, zones: dict[str, str]
) -> None:
    name = f"training-{unique}"
    _training_pipeline(clients, name)
    clients.s3.delete_object(Bucket=zones["RAW_BUCKET_NAME"], Key="adult/adult.data")
    started, reason = _run(clients, name, code, commit="aaa", zones=zones)
    raw = f"s3://{zones['RAW_BUCKET_NAME']}"
    assert not started
    assert f"no data objects (.csv, .data, .test, .gz, non-empty) under {raw}/adult/, {raw}/feedback/" in reason
    assert _executions(clients, name) == []
    assert ParameterStore(clients).read(f"/mlops/dev/release/{name}") is None  # the next release tries again


def test_main_reads_its_settings_from_the_environment(
    clients: Clients, unique: str, code: Path, zones: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"training-{unique}"
    _training_pipeline(clients, name)
    environ = zones | {
        "TRAINING_PIPELINE_NAME": name,
        "CODE_HASH_PARAMETER": f"/mlops/dev/release/{name}",
        "CODE_DIR": str(code),
        "CODEBUILD_RESOLVED_SOURCE_VERSION": "feedface",
    }
    kwargs = {"pipelines": TrainingPipelines(clients), "ledger": ParameterStore(clients), "s3": clients.s3}
    assert main(environ=environ, **kwargs) == 0
    assert main(environ=environ, **kwargs) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("code-change trigger: started: no code-change run recorded yet")
    assert out[1].startswith("code-change trigger: skipped: pipeline_code unchanged")
    assert _executions(clients, name)[0]["PipelineExecutionDisplayName"] == "code-change-feedface"


def test_main_names_a_missing_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(environ={"CODE_HASH_PARAMETER": "/p"}) == 2
    assert "set TRAINING_PIPELINE_NAME" in capsys.readouterr().err


def test_main_names_a_missing_snapshot_setting(
    clients: Clients, unique: str, code: Path, zones: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"training-{unique}"
    _training_pipeline(clients, name)
    environ = {k: v for k, v in zones.items() if k != "SNAPSHOTS_URI"} | {
        "TRAINING_PIPELINE_NAME": name,
        "CODE_HASH_PARAMETER": f"/mlops/dev/release/{name}",
        "CODE_DIR": str(code),
    }
    kwargs = {"pipelines": TrainingPipelines(clients), "ledger": ParameterStore(clients), "s3": clients.s3}
    assert main(environ=environ, **kwargs) == 2
    assert "set SNAPSHOTS_URI" in capsys.readouterr().err
    assert _executions(clients, name) == []
