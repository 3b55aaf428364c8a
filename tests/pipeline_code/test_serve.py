"""The model's inference handlers on raw records: the scores are the evaluation's, CSV and JSON agree, unseen
categories follow the missing rule and are counted, and malformed requests get a 4xx naming record and field.

The model is the session's local run (`run_dir`), packaged by train exactly as a training job packages it
(booster, ``metadata/feature_manifest.json``, ``code/``), at the threshold its evaluation chose.
"""

from __future__ import annotations

import csv
import gc
import gzip
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_code import evaluate, features, preprocess, schema, serve, tabular
from pipeline_code.artifacts import read_json
from pipeline_code.errors import PipelineError

WORKCLASS = schema.column("workclass").categories  # type: ignore[union-attr]

MANIFEST = features.FeatureManifest.from_schema()
RAW = list(MANIFEST.raw_names)


@pytest.fixture(scope="module")
def threshold(run_dir: Path) -> float:
    return float(read_json(run_dir / "evaluation" / "evaluation.json")["serving"]["decision_threshold"])


@pytest.fixture(scope="module")
def model(run_dir: Path, threshold: float) -> serve.ServedModel:
    return serve.load(run_dir / "model", threshold)


@pytest.fixture(scope="module")
def shipped_test(adult_dir: Path) -> list[str]:
    """The shipped raw test file's lines (header first; labels end with a dot; '?' for missing)."""
    return gzip.decompress((adult_dir / "adult.test.gz").read_bytes()).decode().splitlines()


@pytest.fixture(scope="module")
def evaluation_scores(adult_dir: Path, run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """The local evaluation's scores of the shipped test file: encoded by preprocess's code, scored by evaluate."""
    raw = adult_dir / "adult.test.gz"
    batches = list(tabular.iter_encoded_raw([raw]))
    processed = tmp_path_factory.mktemp("evaluation") / "test.csv"
    tabular.save_processed(
        processed,
        tabular.EncodedBatch(
            np.concatenate([b.features for b in batches]), tabular.concat_labels([b.label for b in batches])
        ),
    )
    _, _, scores = evaluate.labelled_predictions(run_dir / "model", processed)
    return np.asarray(scores)


def _answer(model: serve.ServedModel, body: str, content_type: str) -> dict[str, Any]:
    text, kind = serve.invoke(model, body, content_type, serve.JSON)
    assert kind == serve.JSON
    answer: dict[str, Any] = json.loads(text)
    return answer


def _instances(lines: list[str]) -> list[dict[str, Any]]:
    """Raw lines as JSON instances, typed as a client would send them: numbers as numbers, '?' as null."""
    out = []
    for fields in csv.reader(lines, skipinitialspace=True):
        instance: dict[str, Any] = {}
        for feature, value in zip(MANIFEST.features, fields, strict=False):
            text = value.strip()
            instance[feature.raw_name] = None if text == "?" else (text if feature.categorical else int(text))
        out.append(instance)
    return out


# ------------------------------------------------------------------------------------------------ scores


def test_scores_of_the_shipped_raw_test_file_are_the_local_evaluations_exactly(
    model: serve.ServedModel, shipped_test: list[str], evaluation_scores: np.ndarray, threshold: float
) -> None:
    # the whole file as one CSV request: its header line, labels with the test file's dot, '?' for missing
    text, _ = serve.invoke(model, "\n".join(shipped_test), serve.CSV, serve.CSV)
    lines = text.splitlines()
    assert lines[0] == "probability,decision"  # the header line is answered in place
    assert len(lines) == len(shipped_test) == 16_282
    scores = np.array([float(line.split(",")[0]) for line in lines[1:]])
    assert scores.astype(np.float32).tolist() == evaluation_scores.tolist()  # the same float32, row for row
    decisions = np.array([int(line.split(",")[1]) for line in lines[1:]])
    np.testing.assert_array_equal(decisions, evaluation_scores >= threshold)
    assert 0 < decisions.mean() < 1


def test_the_runs_raw_test_split_scores_as_its_processed_test_split(model: serve.ServedModel, run_dir: Path) -> None:
    """Preprocess's raw_test/test.csv (what the promotion's gate and smoke test send) holds the test split's rows."""
    raw = (run_dir / "preprocess" / preprocess.RAW_TEST / "test.csv").read_text()
    _, label, expected = evaluate.labelled_predictions(run_dir / "model", run_dir / "preprocess" / "test")
    answer = _answer(model, raw, serve.CSV)
    assert [p["probability"] for p in answer["predictions"]] == np.asarray(expected, dtype=np.float64).tolist()
    words = [line.rsplit(",", 1)[1] for line in raw.splitlines()]
    assert [w == schema.POSITIVE_LABEL for w in words] == [bool(y) for y in label]


def test_csv_and_json_requests_get_the_same_answers(model: serve.ServedModel, shipped_test: list[str]) -> None:
    rows = shipped_test[1:1001]
    assert any("?" in row for row in rows)
    from_csv = _answer(model, "\n".join(rows), "text/csv; charset=utf-8")
    from_json = _answer(model, json.dumps({"instances": _instances(rows)}), serve.JSON)
    assert from_csv == from_json
    assert len(from_json["predictions"]) == 1000
    assert {p["label"] for p in from_json["predictions"]} == set(schema.LABEL_VALUES)
    csv_text, _ = serve.invoke(model, "\n".join(rows), serve.CSV, serve.CSV)
    assert [float(line.split(",")[0]) for line in csv_text.splitlines()] == [
        p["probability"] for p in from_json["predictions"]
    ]


def test_processed_names_labels_and_separators_do_not_change_a_score(model: serve.ServedModel) -> None:
    line = GOOD[0]
    expected = _answer(model, line, serve.CSV)["predictions"]
    assert _answer(model, line.replace(", ", ",") + ",<=50K", serve.CSV)["predictions"] == expected
    (instance,) = _instances([line])
    renamed = {MANIFEST.features[RAW.index(k)].name: v for k, v in instance.items()}
    assert _answer(model, json.dumps({"instances": [{**renamed, "Y": ">50K"}]}), serve.JSON)["predictions"] == expected
    as_text = {k: str(v) for k, v in instance.items()}
    assert _answer(model, json.dumps({"instances": [as_text]}), serve.JSON)["predictions"] == expected


# ------------------------------------------------------------------------------------------------ unseen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    feature=st.sampled_from([f for f in MANIFEST.features if f.categorical]),
    word=st.text(
        st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters=",\"'"), min_size=1, max_size=20
    ),
)
def test_an_unseen_category_is_scored_as_missing_and_counted(
    model: serve.ServedModel, shipped_test: list[str], feature: features.Feature, word: str
) -> None:
    assert feature.categories is not None
    if word.strip() in (*feature.categories, "?", "") or features.NUMBER.fullmatch(word.strip()):
        return  # a known word, the missing token, or a number (an error: test_malformed_requests...)
    j = RAW.index(feature.raw_name)
    fields = next(csv.reader([shipped_test[3]], skipinitialspace=True))[:14]
    unseen = fields.copy()
    unseen[j] = word
    missing = fields.copy()
    missing[j] = "?"
    before = model.unseen_counts[feature.raw_name]
    answer = _answer(model, json.dumps({"instances": [dict(zip(RAW, unseen, strict=True))]}), serve.JSON)
    as_missing = _answer(model, ",".join(missing), serve.CSV)
    (prediction,) = answer["predictions"]
    assert prediction["probability"] == as_missing["predictions"][0]["probability"]  # the rule training has for '?'
    assert prediction["unseen_categories"] == {feature.raw_name: word.strip()}
    assert answer["unseen_categories"] == 1
    assert model.unseen_counts[feature.raw_name] == before + 1


def test_training_refuses_what_serving_counts(tmp_path: Path, shipped_test: list[str]) -> None:
    """One rule, two uses: preprocess stops on an unseen category (a model learns only its schema's categories)."""
    changed = next(line for line in shipped_test[50:] if ", Private," in line).replace(", Private,", ", Astronaut,")
    lines = [*shipped_test[:50], changed]
    (tmp_path / "new.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(PipelineError, match=r"column 'workclass' has unseen categories \['Astronaut'\]"):
        list(tabular.iter_encoded_raw([tmp_path / "new.csv"]))


# ------------------------------------------------------------------------------------------------ malformed

GOOD = [
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, "
    "United-States",
    "50, ?, 83311, Bachelors, 13, Married-civ-spouse, ?, Husband, White, Male, 0, 0, 13, ?",
    "38, Private, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Not-in-family, White, Female, 0, 0, 40, Cuba",
]
NUMERIC = [j for j, f in enumerate(MANIFEST.features) if not f.categorical]
CATEGORICAL = [j for j, f in enumerate(MANIFEST.features) if f.categorical]
NOT_A_NUMBER = st.sampled_from(["forty", "1_000", "nan", "inf", "-inf", "0x10", "4 2", "١٢", "1e999", "39.5.1"])
NOT_A_CATEGORY_JSON = st.one_of(
    st.integers(-5, 50), st.floats(allow_nan=False), st.booleans(), st.just([]), st.just({})
)


def _out_of_range(j: int) -> st.SearchStrategy[str]:
    feature = MANIFEST.features[j]
    below = st.integers(-(10**6), int(feature.minimum) - 1) if feature.minimum > -(10**6) else st.nothing()
    above = st.integers(int(feature.maximum) + 1, int(feature.maximum) * 10 + 10)
    fraction = st.just(f"{int(feature.minimum) + 0.5}")
    return st.one_of(below.map(str), above.map(str), fraction)


@st.composite
def malformed(draw: st.DrawFn) -> tuple[str, str, int, str | None]:
    """(body, content type, the 1-based record that is wrong, the field named or None for a layout problem)."""
    count = draw(st.integers(1, 4))
    rows = [next(csv.reader([draw(st.sampled_from(GOOD))], skipinitialspace=True)) for _ in range(count)]
    bad = draw(st.integers(0, count - 1))
    as_json = draw(st.booleans())
    kind = draw(
        st.sampled_from(
            ["not a number", "out of range", "number for a category", "missing field", "extra field", "field count"]
        )
    )
    instances: list[dict[str, Any]] = [dict(zip(RAW, row, strict=True)) for row in rows]
    field: str | None
    if kind == "not a number":
        j = draw(st.sampled_from(NUMERIC))
        field, value = RAW[j], draw(NOT_A_NUMBER)
        rows[bad][j] = value
        instances[bad][field] = draw(st.sampled_from([value, True, [1], {"v": 1}]))
    elif kind == "out of range":
        j = draw(st.sampled_from(NUMERIC))
        field, value = RAW[j], draw(_out_of_range(j))
        rows[bad][j] = value
        instances[bad][field] = float(value) if draw(st.booleans()) else value
    elif kind == "number for a category":
        j = draw(st.sampled_from(CATEGORICAL))
        field = RAW[j]
        rows[bad][j] = str(draw(st.integers(-1, 40)))
        instances[bad][field] = draw(st.one_of(NOT_A_CATEGORY_JSON, st.just(rows[bad][j])))
    elif kind == "missing field":
        j = draw(st.integers(0, 13))
        field = RAW[j]
        del rows[bad][j]
        del instances[bad][field]
        if not as_json:
            field = None  # a CSV line cannot say which column it lacks: its field count is named
    elif kind == "extra field":
        name = draw(st.sampled_from(["bonus", "AGE", "education_num ", "id"]))
        rows[bad] += ["1", "2"]
        instances[bad][name] = 1
        field = name if as_json else None
    else:  # field count
        rows[bad] = rows[bad][: draw(st.integers(1, 12))]
        instances[bad] = draw(st.sampled_from([[], "39, State-gov", None, 7]))  # not an object
        field = None
    if as_json:
        return json.dumps({"instances": instances}), serve.JSON, bad + 1, field
    return "\n".join(", ".join(row) for row in rows), serve.CSV, bad + 1, field


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=malformed())
def test_malformed_requests_get_a_400_naming_record_and_field(
    model: serve.ServedModel, case: tuple[str, str, int, str | None]
) -> None:
    body, content_type, record, field = case
    with pytest.raises(serve.RequestError) as raised:
        serve.invoke(model, body, content_type, draw_accept(body))
    error = raised.value
    assert error.status_code == 400
    assert f"(record {record})" in error.message
    if field is not None:
        assert f"'{field}'" in error.message or f"{field!r}" in error.message


def draw_accept(body: str) -> str:
    return serve.CSV if len(body) % 2 else serve.JSON  # either answer type: the request is refused first


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=60),
        st.text(max_size=60),
        st.just(b"\xff\xfe39, State-gov"),
        st.just('{"instances": []}'),
        st.just('{"instances": {}}'),
        st.just("[1, 2]"),
        st.just("\n\n  \n"),
        st.just(", ".join(RAW)),  # only a header
        st.just(", ".join(reversed(RAW))),  # a header in another order
    ),
    content_type=st.sampled_from([serve.CSV, serve.JSON]),
)
def test_garbage_bodies_get_a_4xx_never_a_crash(model: serve.ServedModel, body: bytes | str, content_type: str) -> None:
    refused: serve.RequestError | None = None
    try:
        serve.invoke(model, body, content_type, serve.JSON)
    except serve.RequestError as error:
        refused = error
    # a body that happens to be a valid request (hypothesis may find one) is scored: nothing else may happen
    if refused is not None:
        assert 400 <= refused.status_code < 500
        assert refused.message


@pytest.mark.parametrize(
    ("content_type", "accept", "status", "message"),
    [
        ("application/x-npy", serve.JSON, 415, "content type 'application/x-npy' is not served"),
        (serve.CSV, "application/x-protobuf", 406, "Accept 'application/x-protobuf' is not served"),
    ],
)
def test_unserved_content_types_are_415_and_406(
    model: serve.ServedModel, content_type: str, accept: str, status: int, message: str
) -> None:
    with pytest.raises(serve.RequestError) as raised:
        serve.invoke(model, GOOD[0], content_type, accept)
    assert (raised.value.status_code, raised.value.message.startswith(message)) == (status, True)


def test_a_header_in_another_order_is_refused_not_misread(model: serve.ServedModel) -> None:
    header = ", ".join([RAW[1], RAW[0], *RAW[2:]])
    with pytest.raises(serve.RequestError, match="a header with the columns in another order"):
        serve.invoke(model, f"{header}\n{GOOD[0]}", serve.CSV, serve.JSON)


# ------------------------------------------------------------------------------------------------ the package


def test_the_model_folder_carries_its_encoding_and_the_serving_code(run_dir: Path) -> None:
    model_dir = run_dir / "model"
    packaged = read_json(model_dir / serve.MANIFEST_IN_MODEL)
    assert packaged == read_json(run_dir / "preprocess" / "manifest" / "feature_manifest.json")
    assert (model_dir / "code" / serve.ENTRY_POINT).read_text() == (
        Path(serve.__file__).parent / "inference.py"
    ).read_text()
    for module in ("serve", "features", "train", "schema", "errors"):
        assert (model_dir / "code" / "pipeline_code" / f"{module}.py").is_file()
    assert not (model_dir / "code" / "requirements.txt").exists()  # the container installs nothing


def test_the_entry_point_is_what_the_container_imports(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SAGEMAKER_PROGRAM=inference.py from the model's code/ folder: the handlers the container finds."""
    code = run_dir / "model" / "code"
    spec = importlib.util.spec_from_file_location("inference", code / serve.ENTRY_POINT)
    assert spec is not None
    assert spec.loader is not None
    entry = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "inference", entry)
    spec.loader.exec_module(entry)
    assert {entry.model_fn, entry.input_fn, entry.predict_fn, entry.output_fn} == {
        serve.model_fn,
        serve.input_fn,
        serve.predict_fn,
        serve.output_fn,
    }
    monkeypatch.delenv(serve.THRESHOLD_ENV, raising=False)
    with pytest.raises(PipelineError, match=f"{serve.THRESHOLD_ENV} is not set"):
        entry.model_fn(str(run_dir / "model"))
    monkeypatch.setenv(serve.THRESHOLD_ENV, "0.25")
    try:
        assert entry.model_fn(str(run_dir / "model")).threshold == 0.25
    finally:
        gc.unfreeze()  # model_fn froze this test process's heap, as it does the container's


def test_a_model_another_encoding_trained_is_served_with_its_own(
    run_dir: Path, tmp_path: Path, threshold: float
) -> None:
    """The packaged manifest, not this code's schema, decides the encoding: a model whose manifest orders the
    workclass categories differently reads the same word as that model's code."""
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(run_dir / "model", model_dir)
    document = read_json(model_dir / serve.MANIFEST_IN_MODEL)
    workclass = next(f for f in document["features"] if f["raw_name"] == "workclass")
    workclass["categories"] = list(reversed(workclass["categories"]))
    (model_dir / serve.MANIFEST_IN_MODEL).write_text(json.dumps(document))
    own = serve.load(model_dir, threshold)
    encoded = serve.encode(serve.input_fn(GOOD[0], serve.CSV), own.encoder)[1].matrix
    reversed_code = list(reversed(WORKCLASS)).index("State-gov")
    assert encoded[0, RAW.index("workclass")] == reversed_code != WORKCLASS.index("State-gov")


def test_a_model_without_a_manifest_is_refused_at_load(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copy(run_dir / "model" / "xgboost-model.json", tmp_path / "xgboost-model.json")
    with pytest.raises(PipelineError, match="no feature manifest in the model"):
        serve.load(tmp_path, 0.5)
    with pytest.raises(PipelineError, match="is not a probability"):
        serve.load(run_dir / "model", 1.5)


# ------------------------------------------------------------------------------------------------ the twin's endpoint


def test_the_twins_endpoint_serves_through_the_packaged_handlers_and_refuses_with_a_model_error(
    run_dir: Path, threshold: float, tmp_path: Path
) -> None:
    """What the loop's traffic and the promotion's smoke test reach: InvokeEndpoint on moto, answered by the
    handlers of the deployed model.tar.gz (twin.capture.ModelEndpoint); a refused request is the ModelError (424)
    that SageMaker Runtime raises, with the container's 400 and its message."""
    import boto3
    from botocore.exceptions import ClientError

    from pipeline_definition.local_runner.jobs import pack_folder
    from tests.moto_server import moto_server
    from twin import capture, moto_patches

    archive = tmp_path / "model.tar.gz"
    pack_folder(run_dir / "model", archive)
    moto_patches.enable_local_step_functions()
    with moto_server() as url:
        options = {
            "region_name": "eu-west-1",
            "endpoint_url": url,
            "aws_access_key_id": "t",
            "aws_secret_access_key": "t",
        }
        s3, sagemaker = boto3.client("s3", **options), boto3.client("sagemaker", **options)
        runtime = boto3.client("sagemaker-runtime", **options)
        s3.create_bucket(Bucket="models", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.upload_file(str(archive), "models", "run/model.tar.gz")
        environment = {**serve.SCRIPT_MODE_ENV, serve.THRESHOLD_ENV: repr(threshold)}
        for name, env in (("served", environment), ("algorithm-mode", {})):
            sagemaker.create_model(
                ModelName=name,
                ExecutionRoleArn="arn:aws:iam::123456789012:role/endpoint",
                PrimaryContainer={"Image": "xgb", "ModelDataUrl": "s3://models/run/model.tar.gz", "Environment": env},
            )
            variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
            sagemaker.create_endpoint_config(
                EndpointConfigName=name, ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
            )
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
            while sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
                pass
        moto_patches.set_model_behaviour(capture.ModelEndpoint(s3))
        try:
            body = "\n".join(GOOD)
            answer = runtime.invoke_endpoint(EndpointName="served", ContentType=serve.CSV, Accept=serve.JSON, Body=body)
            assert answer["ContentType"] == serve.JSON
            local, _ = serve.invoke(serve.load(run_dir / "model", threshold), body, serve.CSV, serve.JSON)
            assert answer["Body"].read().decode() == local
            with pytest.raises(ClientError) as refused:
                runtime.invoke_endpoint(EndpointName="served", ContentType=serve.CSV, Body=GOOD[0].replace("39", "x"))
            error = refused.value.response
            assert (error["Error"]["Code"], error["OriginalStatusCode"]) == ("ModelError", 400)
            assert "line 1 (record 1): field 'age': 'x' is not a number" in error["OriginalMessage"]
            with pytest.raises(ClientError) as failed:  # no script-mode environment: the handlers never load
                runtime.invoke_endpoint(EndpointName="algorithm-mode", ContentType=serve.CSV, Body=GOOD[0])
            assert failed.value.response["OriginalStatusCode"] == 500
        finally:
            moto_patches.reset_twin_state()


def test_the_twins_endpoint_fetches_and_loads_each_archive_once_per_environment(
    run_dir: Path, threshold: float, tmp_path: Path
) -> None:
    """A live endpoint loads its model once (model_fn), not per request: the twin fetches, unpacks and loads an
    archive once per archive and container environment, however many requests and transform records it serves."""
    import io

    from pipeline_definition.local_runner.jobs import pack_folder
    from twin import capture
    from twin.moto_patches import ModelCall

    pack_folder(run_dir / "model", tmp_path / "model.tar.gz")
    archive = (tmp_path / "model.tar.gz").read_bytes()

    class Bucket:
        def __init__(self) -> None:
            self.fetched: list[str] = []

        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 (boto3's argument names)
            self.fetched.append(f"{Bucket}/{Key}")
            return {"Body": io.BytesIO(archive)}

    s3 = Bucket()
    endpoint = capture.ModelEndpoint(s3)
    environment = {**serve.SCRIPT_MODE_ENV, serve.THRESHOLD_ENV: repr(threshold)}
    strict = {**environment, serve.THRESHOLD_ENV: repr(min(threshold + 0.2, 0.99))}
    url = "s3://models/run/model.tar.gz"
    answers = [endpoint(ModelCall(url, env, "\n".join(GOOD), serve.CSV, serve.JSON)) for env in (environment,) * 3]
    assert {a.status for a in answers} == {200}
    assert len({a.body for a in answers}) == 1
    assert s3.fetched == ["models/run/model.tar.gz"]
    endpoint(ModelCall(url, strict, GOOD[0], serve.CSV, serve.JSON))  # another threshold: another container
    assert s3.fetched == ["models/run/model.tar.gz"] * 2


def test_the_manifest_round_trips_and_a_broken_one_is_refused_naming_what_is_wrong() -> None:
    document = MANIFEST.document()
    assert features.FeatureManifest.from_document(json.loads(json.dumps(document)), "m") == MANIFEST
    twice = json.loads(json.dumps(document))
    twice["features"][1]["raw_name"] = "age"
    with pytest.raises(PipelineError, match=r"m: not a usable feature manifest: duplicate feature names"):
        features.FeatureManifest.from_document(twice, "m")
    unranged = json.loads(json.dumps(document))
    del unranged["features"][0]["minimum"]
    with pytest.raises(PipelineError, match=r"m: not a feature manifest \(KeyError\('minimum'\)"):
        features.FeatureManifest.from_document(unranged, "m")
