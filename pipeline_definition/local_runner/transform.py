"""A batch transform job, locally: the model's own handlers score each input file, as SageMaker's transform does.

The model named by ModelName is looked up on the twin (DescribeModel; a model made from a package, as ResolveModel
makes one, is read through DescribeModelPackage), its model.tar.gz fetched and served with the handlers it carries
(`pipeline_code.serve`: SageMaker's XGBoost container in script mode, ``SAGEMAKER_PROGRAM=inference.py``, the
threshold from the container's environment). Each file's non-blank lines go to the handlers in mini-batches of at
most ``MaxPayloadInMB`` (``BatchStrategy: MultiRecord``, ``SplitType: Line``), with the job's ``DataProcessing``:
``InputFilter`` on each record, ``JoinSource: Input`` (the input record, a comma, the answer's line) and
``OutputFilter`` on the joined record (`transform_lines`, which the twin's promotion uses too). A request the
handlers refuse fails the job, as SageMaker fails a transform job whose container answers an error.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable
from typing import Any

from pipeline_definition.local_runner import s3io
from pipeline_definition.local_runner.errors import StepFailed, UnsupportedConstruct
from pipeline_definition.local_runner.jobs import JobContext

DEFAULT_MAX_PAYLOAD_MB = 6
_INDEX = re.compile(r"-?\d+")
_SLICE = re.compile(r"(-?\d*):(-?\d*)")


class TransformError(Exception):
    """What fails a transform job: the container's error, or an answer that does not line up with the records."""


def select(fields: list[str], path: str | None) -> list[str]:
    """The fields a CSV record keeps under a JSONPath filter: `$`, `$[i]`, `$[i,j,...]` or `$[a:b]` (negative
    indices count from the end), what SageMaker's InputFilter and OutputFilter accept for CSV records."""
    if path in (None, "", "$"):
        return fields
    assert path is not None
    if not (path.startswith("$[") and path.endswith("]")):
        raise TransformError(f"filter {path!r}: only $, $[i], $[i,j] and $[a:b] are emulated for CSV records")
    chosen: list[str] = []
    for part in path[2:-1].split(","):
        part = part.strip()
        if _INDEX.fullmatch(part):
            index = int(part)
            if not -len(fields) <= index < len(fields):
                raise TransformError(f"filter {path!r}: index {index} outside a record of {len(fields)} fields")
            chosen.append(fields[index])
        elif match := _SLICE.fullmatch(part):
            start, stop = (int(v) if v else None for v in match.groups())
            chosen += fields[start:stop]
        else:
            raise TransformError(f"filter {path!r}: {part!r} is not an index or a slice")
    return chosen


def mini_batches(lines: list[str], max_bytes: int) -> list[list[str]]:
    """Consecutive records, as many per request as fit in ``max_bytes`` (a record never split; one record larger
    than the limit fails the job, as on SageMaker)."""
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        length = len(line.encode()) + 1
        if length > max_bytes:
            raise TransformError(f"a record of {length} bytes exceeds MaxPayloadInMB ({max_bytes} bytes)")
        if current and size + length > max_bytes:
            batches.append(current)
            current, size = [], 0
        current.append(line)
        size += length
    if current:
        batches.append(current)
    return batches


def transform_lines(
    lines: list[str],
    invoke: Callable[[str], str],
    data_processing: dict[str, Any] | None = None,
    *,
    max_payload_mb: int = DEFAULT_MAX_PAYLOAD_MB,
) -> list[str]:
    """The output lines of one input file: every record answered by ``invoke`` (one request per mini-batch)."""
    processing = data_processing or {}
    records = [line for line in lines if line.strip()]
    out: list[str] = []
    for batch in mini_batches(records, max_payload_mb * 1024 * 1024):
        sent = [",".join(select(line.split(","), processing.get("InputFilter"))) for line in batch]
        answers = [line for line in invoke("\n".join(sent)).splitlines() if line.strip()]
        if len(answers) != len(batch):
            raise TransformError(f"the model answered {len(answers)} line(s) for {len(batch)} record(s)")
        for record, answer in zip(batch, answers, strict=True):
            joined = f"{record},{answer}" if processing.get("JoinSource") == "Input" else answer
            out.append(",".join(select(joined.split(","), processing.get("OutputFilter"))))
    return out


def _container(sagemaker: Any, model_name: str) -> dict[str, Any]:
    """The model's container: Image, ModelDataUrl, Environment (a package's, for a model made from a package)."""
    try:
        model = sagemaker.describe_model(ModelName=model_name)
    except Exception as err:
        raise StepFailed(f"DescribeModel {model_name!r} failed: {err}") from err
    container: dict[str, Any] = model.get("PrimaryContainer") or model["Containers"][0]
    if "ModelPackageName" in container:
        package = sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"])
        container = {**package["InferenceSpecification"]["Containers"][0], **container}
    return container


def run_transform(ctx: JobContext, sagemaker: Any, args: dict[str, Any]) -> dict[str, Any]:
    from pipeline_code import serve

    source, output = args["TransformInput"], args["TransformOutput"]
    if source.get("ContentType") != serve.CSV or source.get("SplitType") != "Line":
        raise UnsupportedConstruct(ctx.step, "TransformInput other than text/csv split by Line")
    if args.get("BatchStrategy", "MultiRecord") != "MultiRecord":
        raise UnsupportedConstruct(ctx.step, "BatchStrategy other than MultiRecord")
    container = _container(sagemaker, args["ModelName"])
    environment = container.get("Environment") or {}
    if "xgboost" not in container["Image"] or environment.get("SAGEMAKER_PROGRAM") != serve.ENTRY_POINT:
        raise UnsupportedConstruct(
            ctx.step, f"scoring with {container['Image']} {environment} (only the XGBoost image in script mode)"
        )
    model_dir = ctx.step_dir / "model"
    s3io.download(ctx.s3, container["ModelDataUrl"], "S3Prefix", model_dir, "ModelDataUrl")
    with tarfile.open(next(model_dir.glob("*.tar.gz"))) as tar:
        tar.extractall(model_dir, filter="data")
    if not (model_dir / serve.CODE_DIR / serve.ENTRY_POINT).is_file():
        raise StepFailed(f"{container['ModelDataUrl']} holds no {serve.CODE_DIR}/{serve.ENTRY_POINT}: nothing to serve")
    try:
        model = serve.load(model_dir, environment.get(serve.THRESHOLD_ENV, ""))
    except Exception as err:  # what the container's model_fn would fail with
        raise StepFailed(f"the model's model_fn failed: {err}") from err
    accept = output.get("Accept", serve.CSV)

    def invoke(body: str) -> str:
        try:
            return serve.invoke(model, body, serve.CSV, accept)[0]
        except serve.RequestError as err:
            raise TransformError(f"the model answered {err}") from None

    inputs = ctx.step_dir / "input"
    data = source["DataSource"]["S3DataSource"]
    s3io.download(ctx.s3, data["S3Uri"], data["S3DataType"], inputs, "TransformInput")
    results = ctx.step_dir / "output"
    for path in sorted(p for p in inputs.rglob("*") if p.is_file()):
        try:
            lines = transform_lines(
                path.read_text().splitlines(),
                invoke,
                args.get("DataProcessing"),
                max_payload_mb=int(args.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)),
            )
        except TransformError as err:
            raise StepFailed(f"{path.relative_to(inputs)}: {err}") from err
        out = results / (path.relative_to(inputs).as_posix() + ".out")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(f"{line}\n" for line in lines))
    s3io.upload(ctx.s3, results, output["S3OutputPath"])
    return {**args, "TransformJobName": ctx.job_name(), "TransformJobStatus": "Completed"}
