"""The dataset contract: what the validator refuses (and how it says so), the renderings the steps read, and the
Adult contract against the schema it replaced."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError, load_config
from config import dataset as contracts
from pipeline_code import schema
from pipeline_definition.contract import code_hash
from tests.config.editing import edited, write
from tests.datasets import adult_schema_before as before

ADULT = yaml.safe_load(contracts.contract_path("adult").read_text())


def problems_of(data: Any) -> list[str]:
    contract, problems = contracts.validate(data, "datasets/x.yaml")
    assert contract is None
    assert problems
    return problems


def changed(path: str, value: Any) -> dict[str, Any]:
    """The Adult contract with one value replaced; `path` is dotted, list items by index (`columns.0.type`)."""
    data = copy.deepcopy(ADULT)
    *parents, leaf = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(leaf) if isinstance(node, list) else leaf] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("columns.0.type", "decimal", "key 'columns.0.type' has value 'decimal': Input should be 'numeric', 'integer'"),
        ("label.column", "income", "key 'label.column' has value 'income': not a column; the columns are age, "),
        (
            "label.positive",
            ">50",
            "key 'label.positive' has value '>50': not a category of column 'Y' ['<=50K', '>50K']",
        ),
        ("label.column", "age", "key 'label.column' has value 'age': the label must be categorical or boolean"),
        ("columns.2.name", "age", "key 'columns[2].name' has value 'age': duplicate column: also columns[0]"),
        ("facets.1.column", "religion", "key 'facets[1].column' has value 'religion': not a column"),
        ("facets.0.group", "Woman", "key 'facets[0].group' has value 'Woman': not a category of column 'sex'"),
        ("facets.0.column", "Y", "key 'facets[0].column' has value 'Y': the label cannot be a facet"),
        ("facets.0.column", "age", "key 'facets[0].column' has value 'age': a facet must be categorical or boolean"),
        ("columns.0.range", [100, 16], "key 'columns[0].range' has value [100.0, 16.0]: the minimum is above"),
        ("columns.0.range", None, "key 'columns[0].range' has value None: a integer column needs its [minimum"),
        ("columns.1.categories", None, "key 'columns[1].categories' has value None: a categorical column needs"),
        ("columns.1.categories", ["Private", "Private"], "categories given twice: Private"),
        ("columns.4.feature_name", "age", "key 'columns[4].feature_name' has value 'age': duplicate processed name"),
        ("columns.4.feature_name", "education num", "not a Feature Store name"),
        ("record_identifier", "age", "key 'record_identifier' has value 'age': the name of a column (columns[0])"),
        ("missing_token", "", "key 'missing_token' has value '': String should have at least 1 character"),
        ("colums", [], "key 'colums' is not allowed; allowed keys here: title, description, source, missing_token"),
    ],
)
def test_a_wrong_contract_is_refused_naming_the_key_the_value_and_the_rule(
    path: str, value: Any, expected: str
) -> None:
    found = problems_of(changed(path, value))
    assert any(expected in line for line in found), found
    assert all(line.startswith("datasets/x.yaml: ") for line in found)


def test_every_problem_is_listed_at_once() -> None:
    data = changed("label.positive", "yes")
    data["facets"][1]["column"] = "religion"
    found = problems_of(data)
    assert len(found) == 2, found


def test_a_boolean_column_has_two_values_false_first() -> None:
    data = changed("columns.9", {"name": "sex", "type": "boolean", "categories": ["Female", "Male", "Other"]})
    assert any("a boolean column has exactly two values" in p for p in problems_of(data))
    data["columns"][9]["categories"] = ["Male", "Female"]
    contract, problems = contracts.validate(data, "x")
    assert contract is not None, problems
    sex = contracts.render("x", contract)["features"][9]
    assert sex == {
        "raw_name": "sex",
        "name": "sex",
        "type": "String",
        "kind": "categorical",
        "categories": ["Male", "Female"],
    }


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ({"name": "age", "type": "integer", "categories": "learn"}, "key 'columns[0].categories' has value 'learn'"),
        ({"name": "age", "type": "integer", "range": [16, 100], "min_count": 5}, "key 'columns[0].min_count' has"),
        ({"name": "age", "type": "boolean", "categories": "learn"}, "only a categorical column learns its categories"),
        ({"name": "age", "type": "categorical", "categories": ["a"], "max_categories": 9}, "its categories are listed"),
        ({"name": "age", "type": "categorical", "categories": "learn", "min_count": 0}, "greater than or equal to 1"),
        ({"name": "age", "type": "categorical", "categories": "learned"}, "columns.0.categories.literal['learn']"),
    ],
)
def test_a_learned_column_is_refused_where_it_cannot_be(column: dict[str, Any], expected: str) -> None:
    found = problems_of(changed("columns.0", column))
    assert any(expected in line for line in found), found


def test_a_facet_or_the_label_cannot_be_learned() -> None:
    found = problems_of(changed("columns.9.categories", "learn"))  # sex: the first facet
    assert any("key 'facets[0].column' has value 'sex': a facet's categories must be listed" in p for p in found)
    found = problems_of(changed("columns.14.categories", "learn"))  # Y: the label
    assert any("the label's two values are listed, never learned" in p for p in found), found


def test_a_learned_column_renders_its_bounds_and_no_categories() -> None:
    data = changed("columns.1", {"name": "workclass", "type": "categorical", "categories": "learn", "min_count": 3})
    contract, problems = contracts.validate(data, "x")
    assert contract is not None, problems
    workclass = contracts.render("x", contract)["features"][1]
    assert workclass["categories"] == []
    assert workclass["learn"] == {"min_count": 3, "max_categories": 100}
    column = schema.Dataset.from_document(contracts.render("x", contract)).column("workclass")
    assert isinstance(column, schema.CategoricalColumn)
    assert column.learn == (3, 100)


def test_a_timestamp_column_is_carried_not_a_feature() -> None:
    data = copy.deepcopy(ADULT)
    data["columns"].insert(0, {"name": "observed_at", "type": "timestamp"})
    contract, problems = contracts.validate(data, "x")
    assert contract is not None, problems
    rendering = contracts.render("x", contract)
    assert rendering["timestamps"] == ["observed_at"]
    assert rendering["raw_columns"][0] == "observed_at"
    assert "observed_at" not in [f["raw_name"] for f in rendering["features"]]
    data["label"]["column"] = "observed_at"
    assert any("the label must be categorical or boolean, not timestamp" in p for p in problems_of(data))


def test_the_config_refuses_sharded_preprocessing_of_a_data_set_that_learns_categories(tmp_path: Path) -> None:
    penguins = edited("environments.dev.dataset", "penguins")  # its species' categories are learned
    load_config(write(tmp_path, penguins))  # one instance: fine
    penguins["environments"]["dev"]["scale_out"] = {"Preprocess": 2}
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, penguins))
    assert (
        "environment 'dev': key 'scale_out.Preprocess' is 2: data set 'penguins' learns the categories of species "
        "from the training split" in str(raised.value)
    )


def test_the_config_refuses_an_unknown_data_set_and_a_mapping_to_no_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, edited("defaults.dataset", "churn")))
    assert "datasets/churn.yaml: no such data set contract; the contracts are adult, penguins" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, edited("defaults.dataset", "Adult-2")))
    assert "key 'dataset' has value 'Adult-2': String should match pattern" in str(raised.value)
    ingestion = {
        "source_name": "db",
        "connection": {
            "host": "db.example.com",
            "database": "d",
            "secret_arn": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:db-AbCdEf",
        },
        "table": "t",
        "watermark_column": "updated_at",
        "columns": {"income": "y"},
    }
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, edited("environments.dev.ingestion", ingestion)))
    assert (
        "environment 'dev': key 'ingestion.columns' has key 'income': no column of data set 'adult'; its raw columns "
        "are age, workclass" in str(raised.value)
    )


def test_a_broken_contract_named_by_the_config_stops_the_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "broken.yaml").write_text(yaml.safe_dump(changed("label.positive", "rich")))
    monkeypatch.setattr(contracts, "DATASETS_DIR", folder)
    monkeypatch.setattr(contracts, "ROOT", tmp_path)
    contracts.load_contract.cache_clear()
    try:
        with pytest.raises(ConfigError) as raised:
            load_config(write(tmp_path, edited("defaults.dataset", "broken")))
    finally:
        contracts.load_contract.cache_clear()
    assert "datasets/broken.yaml: key 'label.positive' has value 'rich': not a category of column 'Y'" in str(
        raised.value
    )


def test_the_committed_renderings_are_those_of_the_contracts() -> None:
    assert contracts.stale_renderings() == [], contracts.stale_message(contracts.stale_renderings())
    assert sorted(p.stem for p in contracts.RENDERED_DIR.glob("*.json")) == contracts.available()


def test_a_contract_change_is_a_code_change(tmp_path: Path) -> None:
    """The renderings ship with the step code: editing one gives the code a new hash (a new S3 prefix, new cache
    keys, a retrain by the release's code-change trigger)."""
    code = tmp_path / "pipeline_code"
    shutil.copytree(contracts.RENDERED_DIR.parent, code, ignore=shutil.ignore_patterns("__pycache__"))
    unchanged = code_hash(code)
    assert unchanged == code_hash(contracts.RENDERED_DIR.parent)
    rendering = code / "datasets" / "adult.json"
    rendering.write_text(rendering.read_text().replace('"missing_token": "?"', '"missing_token": "NA"'))
    assert code_hash(code) != unchanged


def test_the_adult_contract_is_the_schema_it_replaced() -> None:
    adult = schema.load("adult")
    assert adult.raw_columns == before.RAW_COLUMNS
    assert adult.feature_names == before.FEATURE_NAMES
    assert adult.numeric_features == before.NUMERIC_FEATURES
    assert adult.categorical_features == before.CATEGORICAL_FEATURES
    for new, old in zip(adult.features, before.FEATURES, strict=True):
        assert (new.raw_name, new.name, new.feature_store_type) == (old.raw_name, old.name, old.feature_store_type)
        if isinstance(old, before.CategoricalColumn):
            assert isinstance(new, schema.CategoricalColumn)
            assert new.categories == old.categories
        else:
            assert isinstance(new, schema.NumericColumn)
            assert (new.minimum, new.maximum) == (old.minimum, old.maximum)
    assert (adult.raw_label, adult.label, adult.label_trailing_chars) == (
        before.RAW_LABEL,
        before.LABEL,
        before.LABEL_TRAILING_CHARS,
    )
    assert set(adult.label_values) == set(before.LABEL_VALUES)
    assert adult.positive_label == before.POSITIVE_LABEL
    assert adult.facet_names == before.FACETS
    assert adult.facets[0].group == "Female"  # what the native bias checks compared (schema.SEX.index("Female"))
    assert adult.missing_token == before.MISSING_TOKEN
    assert (adult.record_identifier_name, adult.event_time_name) == (
        before.RECORD_IDENTIFIER_NAME,
        before.EVENT_TIME_NAME,
    )
    assert adult.feature_store_definitions() == before.feature_store_definitions()
    assert adult.raw_prefix == "adult/"


def test_the_steps_use_the_data_set_named_by_the_job() -> None:
    """The pipeline definitions set MLOPS_DATASET on every job; a process without it works on the default."""
    import subprocess
    import sys

    code = "from pipeline_code import schema; print(schema.DATASET.name, schema.LABEL, schema.RAW_COLUMNS[0])"
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env={"MLOPS_DATASET": "penguins"}, capture_output=True, text=True
    )
    assert run.stdout.split() == ["penguins", "sex", "species"], run.stderr
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env={"MLOPS_DATASET": "nope"}, capture_output=True, text=True
    )
    assert "no data set 'nope'" in run.stderr
    assert "rendered data sets: adult, penguins" in run.stderr


def test_validation_names_a_timestamp_that_is_no_iso_8601_value() -> None:
    import pandas as pd

    from pipeline_code import partials

    df = pd.DataFrame(
        {"at": ["2026-12-01T10:00:00Z", "2026-12-02", "yesterday", "?", ""], "_file": "f.csv", "_line": range(2, 7)}
    )
    df["_key"] = "f.csv"
    # one share, and the same rows split over two shares, report the same
    shares = [[partials.timestamp_finding(df, "at")], [partials.timestamp_finding(p, "at") for p in (df[:2], df[2:])]]
    for findings in shares:
        assert partials.timestamp_violations("at", findings) == [
            "column 'at': 1 value(s) that are no ISO 8601 timestamp ['yesterday'] (first at f.csv line 4)"
        ]
    assert partials.timestamp_violations("at", [partials.timestamp_finding(df.iloc[[0, 1, 3, 4]], "at")]) == []
