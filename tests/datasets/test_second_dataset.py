"""A second, different real data set (the Palmer penguins, data/penguins/, CC0) runs with nothing but its contract
(datasets/penguins.yaml) and one config line (`dataset: penguins`): no Adult-specific code is left.

One module-scoped run, as a person would do it, in child processes: the dev definitions built for that config
(`pipeline_definition.generate --out`, ~10 s CPU), then the twin's loop on it (`python -m twin.loop --config ...
--until promotion`: synth of the dev stage with cdk-nag, data landed, the new-data trigger, the training pipeline
on the local runner, the package, its approval, the promotion state machine, the live endpoint; ~15 s). The loop
stops there: the monitoring phases send 1,000-row windows of rows the model was not trained on, and the data set
holds 333 rows (the phases after it run the same contract-driven code on Adult). The local run (every ML step
in-process) is the third child. The synthesized templates are then read for what the contract decides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import DEFAULT_CONFIG_PATH
from pipeline_code import schema
from tests.synthesis import Synthesis, read_synthesis
from tests.twin.test_loop import STEPS

ROOT = Path(__file__).resolve().parents[2]
PENGUINS = schema.load("penguins")
LOOP_STEPS = STEPS[: STEPS.index("endpoint-in-service") + 1]  # the loop's steps up to its promotion phase


class Run:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.timeline: list[dict[str, Any]] = json.loads((folder / "loop" / "timeline.json").read_text())
        self.synthesis: Synthesis = read_synthesis(folder / "loop" / "cdk.out")
        self.definitions = folder / "definitions"

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        return [
            body.get("Properties", {})
            for stack in self.synthesis.stacks
            for body in stack.template.get("Resources", {}).values()
            if body["Type"] == resource_type
        ]


def _child(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("penguins")
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["defaults"]["dataset"] = "penguins"  # the one config line
    config_path = folder / "environments.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {"MLOPS_DEFINITIONS_DIR": str(folder / "definitions"), "MLOPS_CONFIG": str(config_path)}
    built = _child(["-m", "pipeline_definition.generate", "dev", "--force", "--config", str(config_path)], env)
    assert built.returncode == 0, built.stderr[-3000:]
    loop = _child(
        ["-m", "twin.loop", "--config", str(config_path), "--until", "promotion", "--out", str(folder / "loop")], env
    )
    assert (folder / "loop" / "timeline.json").is_file(), loop.stdout[-2000:] + loop.stderr[-3000:]
    return Run(folder)


def test_the_loop_trains_registers_and_deploys_a_penguin_model(run: Run) -> None:
    assert [entry["step"] for entry in run.timeline] == list(LOOP_STEPS)
    failed = {entry["step"]: entry["evidence"] for entry in run.timeline if not entry["ok"]}
    assert not failed, failed
    landed = run.timeline[0]["evidence"]
    assert "/penguins/penguins.csv" in landed


def test_every_job_of_the_definitions_works_on_the_data_set(run: Run) -> None:
    definition = json.loads((run.definitions / "dev-training.json").read_text())
    jobs = []

    def walk(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            if step["Type"] == "Condition":
                walk(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
            elif step["Type"] in ("Processing", "Training"):
                jobs.append((step["Name"], step["Arguments"].get("Environment", {}).get("MLOPS_DATASET")))

    walk(definition["Steps"])
    assert len(jobs) >= 6
    assert all(dataset == "penguins" for _, dataset in jobs), jobs


def test_the_stage_names_and_declares_the_data_set_from_its_contract(run: Run) -> None:
    (group,) = run.resources("AWS::SageMaker::FeatureGroup")
    assert group["FeatureGroupName"] == "mlops-dev-penguins"
    assert group["Description"].startswith("Palmer penguins features and label")
    assert group["FeatureDefinitions"] == PENGUINS.feature_store_definitions()
    assert [d["FeatureName"] for d in group["FeatureDefinitions"]][2:] == [*PENGUINS.feature_names, "sex"]
    assert {d["FeatureName"]: d["FeatureType"] for d in group["FeatureDefinitions"]}["bill_length_mm"] == "Fractional"
    (table,) = run.resources("AWS::Glue::Table")
    columns = table["TableInput"]["StorageDescriptor"]["Columns"]
    assert table["TableInput"]["Name"] == "penguins"
    assert [(c["Name"], c["Type"]) for c in columns][:3] == [
        ("species", "string"),
        ("island", "string"),
        ("bill_length_mm", "double"),
    ]
    assert (columns[-1]["Name"], columns[-1]["Type"]) == ("sex", "bigint")
    functions = {
        f.get("FunctionName", ""): f.get("Environment", {}).get("Variables", {})
        for f in run.resources("AWS::Lambda::Function")
    }
    (new_data,) = [v for name, v in functions.items() if "INPUT_PREFIX" in v]
    assert new_data["INPUT_PREFIX"] == "penguins/"
    assert new_data["AVERAGE_ROW_BYTES"] == str(PENGUINS.average_row_bytes)
    assert new_data["SNAPSHOT_PREFIXES"] == "penguins/,feedback/"


def test_the_dashboard_has_a_widget_per_penguin_feature(run: Run) -> None:
    (dashboard,) = run.resources("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])
    for feature in PENGUINS.feature_names:
        assert f'\\"Feature\\",\\"{feature}\\"' in body, feature


def test_no_template_of_the_stage_names_adult(run: Run) -> None:
    for stack in run.synthesis.stacks:
        text = json.dumps(stack.template).lower()
        assert "adult" not in text, (stack.stack_id, text[max(0, text.find("adult") - 200) : text.find("adult") + 100])


def test_the_local_run_runs_every_ml_step_on_the_penguins(tmp_path: Path) -> None:
    out = tmp_path / "local-run"
    run = _child(["-m", "pipeline_code.local_run", "--data", str(ROOT / "data" / "penguins"), "--out", str(out)],
                 {"MLOPS_DATASET": "penguins"})  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "validate: 333 rows passed every check" in run.stdout
    evaluation = json.loads((out / "evaluation" / "evaluation.json").read_text())
    assert evaluation["binary_classification_metrics"]["auc"]["value"] > 0.9  # sex from the body measurements
    bias = json.loads((out / "bias" / "bias_report.json").read_text())
    assert set(bias["facets"]) == {"island"}  # species is learned (datasets/penguins.yaml): no facet
    assert bias["facets"]["island"], "no island group large enough for a bias figure"
    manifest = json.loads((out / "preprocess" / "manifest" / "feature_manifest.json").read_text())
    assert manifest["label"]["raw_name"] == "sex"
    species = next(f for f in manifest["features"] if f["name"] == "species")
    assert species["categories"] == ["Adelie", "Chinstrap", "Gentoo", "(other)"], species  # learned, "other" last
    assert species["other_category"] == "(other)"


def test_the_stage_passed_cdk_nag_and_cfn_lint_finds_nothing(run: Run) -> None:
    """The synth ran through create_app with cdk-nag (an unacknowledged finding fails it); cfn-lint reads the
    templates where the contract decides something: the feature group and Glue table, the dashboard and triggers."""
    from cfnlint.api import ManualArgs, lint_by_config

    assert run.synthesis.validation_report["pluginReports"]
    templates = [str(p) for p in sorted((run.folder / "loop" / "cdk.out" / "assembly-dev").glob("*.template.json"))
                 if "DataLake" in p.name or "Operations" in p.name]  # fmt: skip
    assert len(templates) == 2
    ignored = yaml.safe_load((ROOT / ".cfnlintrc.yaml").read_text())["ignore_checks"]
    matches = lint_by_config(ManualArgs(templates=templates, ignore_checks=ignored))
    assert [f"{m.rule.id} {m.filename}:{m.linenumber} {m.message}" for m in matches] == []
