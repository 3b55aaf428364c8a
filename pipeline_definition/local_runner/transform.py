"""A batch transform job, locally, for models the runner can score: XGBoost models on CSV lines.

The model named by ModelName is looked up on the twin (DescribeModel), its model.tar.gz fetched, and every input
line scored; with `JoinSource: Input` an output line is the input line followed by the score, as the SageMaker
XGBoost container with SageMaker's join produces. Any other container is an UnsupportedConstruct.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from pipeline_definition.local_runner import s3io
from pipeline_definition.local_runner.errors import StepFailed, UnsupportedConstruct
from pipeline_definition.local_runner.jobs import JobContext


def run_transform(ctx: JobContext, sagemaker: Any, args: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import xgboost as xgb

    source, output = args["TransformInput"], args["TransformOutput"]
    if source.get("ContentType") != "text/csv" or source.get("SplitType") != "Line":
        raise UnsupportedConstruct(ctx.step, "TransformInput other than text/csv split by Line")
    try:
        model = sagemaker.describe_model(ModelName=args["ModelName"])
    except Exception as err:
        raise StepFailed(f"DescribeModel {args['ModelName']!r} failed: {err}") from err
    container = model.get("PrimaryContainer") or model["Containers"][0]
    if "xgboost" not in container["Image"]:
        raise UnsupportedConstruct(ctx.step, f"scoring with the image {container['Image']} (only XGBoost models)")
    model_dir = ctx.step_dir / "model"
    s3io.download(ctx.s3, container["ModelDataUrl"], "S3Prefix", model_dir, "ModelDataUrl")
    with tarfile.open(next(model_dir.glob("*.tar.gz"))) as tar:
        tar.extractall(model_dir, filter="data")
    files = sorted(p for p in model_dir.rglob("*") if p.is_file() and "xgboost-model" in p.name)
    if not files:
        raise StepFailed(f"no xgboost-model file in {container['ModelDataUrl']}")
    booster = xgb.Booster()
    booster.load_model(str(files[0]))
    inputs = ctx.step_dir / "input"
    data = source["DataSource"]["S3DataSource"]
    s3io.download(ctx.s3, data["S3Uri"], data["S3DataType"], inputs, "TransformInput")
    results = ctx.step_dir / "output"
    join = args.get("DataProcessing", {}).get("JoinSource") == "Input"
    for path in sorted(p for p in inputs.rglob("*") if p.is_file()):
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        rows = np.array([[float(x) if x else np.nan for x in line.split(",")] for line in lines])
        scores = booster.predict(xgb.DMatrix(rows, feature_names=booster.feature_names))
        out = results / (path.relative_to(inputs).as_posix() + ".out")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(f"{line},{s:.6f}\n" if join else f"{s:.6f}\n" for line, s in zip(lines, scores, strict=True)))
    s3io.upload(ctx.s3, results, output["S3OutputPath"])
    return {**args, "TransformJobName": ctx.job_name(), "TransformJobStatus": "Completed"}
