"""python -m pipeline_definition.local_runner --env dev --pipeline training [--param NumRound=20 ...]

Runs one committed definition on a local twin. Without --endpoint-url it starts its own moto server and stands the
environment up on it (buckets, step code, staged SDK files, the Adult data in the raw zone); with one, it expects
those to exist there. Jobs' files and logs go to <workdir>/<execution id>/<step>/, the step cache to
<workdir>/cache/ (shared by successive runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from pathlib import Path

from config import load_config
from pipeline_definition.contract import PIPELINES, definition_path
from pipeline_definition.local_runner.cache import StepCache
from pipeline_definition.local_runner.errors import InvalidParameters, UnsupportedConstruct
from pipeline_definition.local_runner.runner import LocalRunner
from pipeline_definition.local_runner.timeline import format_timeline
from pipeline_definition.local_runner.twin import (
    TwinNames,
    clients,
    moto_endpoint,
    prepare_local_twin,
    write_data_snapshot,
)


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, choices=("dev", "staging", "prod"))
    parser.add_argument("--pipeline", default="training", choices=PIPELINES)
    parser.add_argument("--param", type=_parameter, action="append", default=[], help="Name=Value, repeatable")
    parser.add_argument("--endpoint-url", default=None, help="a running moto server (default: start one)")
    parser.add_argument("--workdir", type=Path, default=Path("local-pipeline-run"))
    parser.add_argument("--sample-rows", type=int, default=None, help="land only the first N rows of each data file")
    parser.add_argument("--max-tuning-trials", type=int, default=3)
    args = parser.parse_args(argv)

    config = load_config()
    environment = config.environment(args.env)
    names = TwinNames(config.project_name, args.env, environment.region, dataset=environment.dataset)
    parameters: dict[str, str | int | float] = dict(args.param)
    with nullcontext(args.endpoint_url) if args.endpoint_url else moto_endpoint() as url:
        s3, sagemaker = clients(url, environment.region)
        if args.endpoint_url:
            placeholders = names.placeholders()
        else:
            placeholders = prepare_local_twin(s3, names, sagemaker=sagemaker, sample_rows=args.sample_rows)
            print(
                f"local twin on {url}: buckets, step code and the data set's files in "
                f"s3://{names.bucket('raw')}/{names.resources.raw_training_prefix}"
            )
            declared = json.loads(definition_path(args.env, args.pipeline).read_text()).get("Parameters", [])
            if any(p["Name"] == "InputManifestUri" for p in declared) and "InputManifestUri" not in parameters:
                parameters["InputManifestUri"] = write_data_snapshot(s3, names)  # what a trigger would write
                print(f"data snapshot: {parameters['InputManifestUri']}")
        runner = LocalRunner(
            s3=s3, sagemaker=sagemaker, workdir=args.workdir, cache=StepCache(args.workdir / "cache"),
            region=environment.region, placeholders=placeholders, max_tuning_trials=args.max_tuning_trials,
        )  # fmt: skip
        try:
            result = runner.run(
                definition_path(args.env, args.pipeline),
                parameters,
                pipeline_name=names.resources.pipeline(args.pipeline),
            )
        except (InvalidParameters, UnsupportedConstruct) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        finally:
            runner.close()
    print(format_timeline(result))
    print(f"files: {args.workdir.resolve()}/<execution id>/<step>/ (stdout.log, stderr.log, ml/ = the job's /opt/ml)")
    return 0 if result.status == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
