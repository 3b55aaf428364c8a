"""Processing and training jobs as local processes, with SageMaker's container contract under /opt/ml."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline_definition.local_runner import s3io, sandbox, script_mode
from pipeline_definition.local_runner.errors import StepFailed, UnsupportedConstruct
from pipeline_definition.local_runner.expressions import render


@dataclass
class JobContext:
    """What one step's job needs: the S3 client, where its files go, and the environment a container would get."""

    s3: Any
    step: str
    step_dir: Path  # workdir/<execution id>/<step>
    execution_id: str
    region: str
    account: str
    aws_env: dict[str, str] = field(default_factory=dict)  # endpoint and credentials of the local twin
    blobs: Path | None = None  # objects already fetched, by ETag (see s3io.download)

    def job_name(self, suffix: str = "") -> str:
        """pipelines-<execution id>-<step>-<hash>, at most 63 characters, as SageMaker Pipelines names its jobs."""
        digest = hashlib.sha256(f"{self.execution_id}/{self.step}/{suffix}".encode()).hexdigest()[:10]
        return f"pipelines-{self.execution_id}-{self.step}"[:52] + f"-{digest}"

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{kind}/{name.lower()}"


def container_path(job_dir: Path, local_path: str, step: str) -> Path:
    """The job-folder file of a container path; only paths under /opt/ml exist in the local container."""
    path = PurePosixPath(local_path)
    if not path.is_relative_to(sandbox.CONTAINER_ROOT):
        raise UnsupportedConstruct(step, f"LocalPath '{local_path}' outside {sandbox.CONTAINER_ROOT}")
    return job_dir / path.relative_to(sandbox.CONTAINER_ROOT)


def _command(spec: dict[str, Any], step: str, image: str) -> list[str]:
    entrypoint = spec.get("ContainerEntrypoint")
    if not entrypoint:
        raise UnsupportedConstruct(
            step,
            f"no ContainerEntrypoint: the image {image} would run its own entrypoint, which is unknown locally "
            "(the SageMaker Distribution image has none that runs a job)",
        )
    return [render(part) for part in [*entrypoint, *spec.get("ContainerArguments", [])]]


def _execute(
    ctx: JobContext,
    job_dir: Path,
    command: list[str],
    env: dict[str, str],
    timeout: float,
    cwd: str,
    *,
    logs: Path | None = None,
    host: str = "",
) -> Path:
    logs = logs or ctx.step_dir
    result = sandbox.run(command, job_dir=job_dir, logs=logs, env=env, timeout=timeout, cwd=cwd)
    if result.returncode != 0:
        failure = job_dir / "output" / "failure"
        detail = failure.read_text(errors="replace").strip() if failure.is_file() else ""
        raise StepFailed(
            (f"{host}: " if host else "")
            + f"job exited with code {result.returncode}"
            + (f" ({detail.splitlines()[0]})" if detail else "")
            + f"; last lines of its output ({logs}):\n{result.tail()}"
        )
    return logs


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1))


def run_processing(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """CreateProcessingJob, locally: inputs from S3, the container command, outputs to S3 at the end of the job.

    With InstanceCount N > 1, N processes, one per host (`algo-1`...`algo-N`, each with its own /opt/ml and a
    resource config naming it): a `ShardedByS3Key` input gives each host its share of the objects (round-robin
    in key order), a `FullyReplicated` one every object; all hosts upload their outputs to the same S3 prefix
    after every host finished, as SageMaker does (the same key from two hosts: the last one wins).
    """
    app = args["AppSpecification"]
    command = _command(app, ctx.step, app.get("ImageUri", "?"))
    job_name = ctx.job_name()
    cluster = args.get("ProcessingResources", {}).get("ClusterConfig", {})
    count = int(cluster.get("InstanceCount", 1))
    if count < 1:
        raise StepFailed(f"InstanceCount {count}: a processing job needs at least one instance")
    hosts = [f"algo-{i + 1}" for i in range(count)]
    outputs = args.get("ProcessingOutputConfig", {}).get("Outputs", [])
    env = sandbox.job_environment({k: render(v) for k, v in args.get("Environment", {}).items()}, ctx.aws_env)
    timeout = float(args.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400))
    job_dirs = []
    for index, host in enumerate(hosts):
        job_dir = ctx.step_dir / ("ml" if count == 1 else f"ml-{host}")
        for item in args.get("ProcessingInputs", []):
            source = item.get("S3Input")
            if source is None:
                raise UnsupportedConstruct(ctx.step, f"ProcessingInput '{item.get('InputName')}' without S3Input")
            if source.get("S3CompressionType", "None") != "None" or source.get("S3InputMode", "File") != "File":
                raise UnsupportedConstruct(
                    ctx.step, f"ProcessingInput '{item['InputName']}': only File mode, no compression"
                )
            local = container_path(job_dir, source["LocalPath"], ctx.step)
            what = f"ProcessingInput '{item['InputName']}'"
            sharded = source.get("S3DataDistributionType", "FullyReplicated") == "ShardedByS3Key"
            s3io.download(
                ctx.s3, source["S3Uri"], source["S3DataType"], local, what, blobs=ctx.blobs,
                shard=(index, count) if sharded else None,
            )  # fmt: skip
            local.mkdir(parents=True, exist_ok=True)  # a host given no object still has its input folder
        for output in outputs:
            container_path(job_dir, output["S3Output"]["LocalPath"], ctx.step).mkdir(parents=True, exist_ok=True)
        _write_json(job_dir / "config" / "processingjobconfig.json", {"ProcessingJobName": job_name, **args})
        _write_json(
            job_dir / "config" / "resourceconfig.json", _resource_config(cluster.get("InstanceType"), host, hosts)
        )
        logs = ctx.step_dir if count == 1 else ctx.step_dir / host
        _execute(ctx, job_dir, command, env, timeout, sandbox.CONTAINER_ROOT, logs=logs, host=host if count > 1 else "")
        job_dirs.append(job_dir)
    # EndOfJob (and Continuous, which ends the same way for a job that has finished): only after a clean exit
    for job_dir in job_dirs:
        for output in outputs:
            s3io.upload(
                ctx.s3, container_path(job_dir, output["S3Output"]["LocalPath"], ctx.step), output["S3Output"]["S3Uri"]
            )
    return {
        **args,
        "ProcessingJobName": job_name,
        "ProcessingJobArn": ctx.arn("processing-job", job_name),
        "ProcessingJobStatus": "Completed",
    }


def _resource_config(instance_type: Any, host: str = "algo-1", hosts: list[str] | None = None) -> dict[str, Any]:
    every = hosts or [host]
    return {
        "current_host": host,
        "current_instance_type": str(instance_type),
        "current_group_name": "homogeneousCluster",
        "hosts": every,
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": str(instance_type), "hosts": every}
        ],
        "network_interface_name": "eth0",
    }


def run_training(ctx: JobContext, args: dict[str, Any], *, suffix: str = "") -> dict[str, Any]:
    """CreateTrainingJob, locally: channels and config files as SageMaker writes them, then model.tar.gz to S3.

    With InstanceCount N > 1, N processes at once (`algo-1`...`algo-N`, each with its own /opt/ml, its channels
    (a `ShardedByS3Key` channel dealt round-robin by key) and a resource config naming it), as a distributed job's
    hosts run together; they reach each other on this machine (MLOPS_TRACKER_HOST/PORT: a free local port, for
    `pipeline_code.distributed`). The model and the metrics are the first host's.
    """
    algorithm = args["AlgorithmSpecification"]
    if "AlgorithmName" in algorithm:
        raise UnsupportedConstruct(ctx.step, "AlgorithmSpecification.AlgorithmName (marketplace algorithms)")
    hyperparameters = {k: render(v) for k, v in args.get("HyperParameters", {}).items()}
    image = algorithm.get("TrainingImage", "?")
    # no entrypoint: the image's own, known only for a framework image in script mode (script_mode.py)
    entrypoint = _command(algorithm, ctx.step, image) if algorithm.get("ContainerEntrypoint") else None
    if entrypoint is None:
        script_mode.check_script_mode(ctx.step, image, hyperparameters)
    job_name = ctx.job_name(suffix)
    count = int(args.get("ResourceConfig", {}).get("InstanceCount", 1))
    hosts = [f"algo-{i + 1}" for i in range(count)]
    cluster = {"MLOPS_TRACKER_HOST": "127.0.0.1", "MLOPS_TRACKER_PORT": str(_free_port())} if count > 1 else {}
    timeout = float(args.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400))
    declared = {k: render(v) for k, v in args.get("Environment", {}).items()}
    runs = []
    for index, host in enumerate(hosts):
        job_dir = ctx.step_dir / ("ml" if count == 1 else f"ml-{host}")
        data_config: dict[str, Any] = {}
        for channel in args.get("InputDataConfig", []):
            name = channel["ChannelName"]
            source = channel["DataSource"].get("S3DataSource")
            if source is None or channel.get("CompressionType", "None") != "None":
                raise UnsupportedConstruct(ctx.step, f"channel '{name}': only uncompressed S3DataSource")
            target = job_dir / "input" / "data" / name
            distribution = source.get("S3DataDistributionType", "FullyReplicated")
            s3io.download(
                ctx.s3, source["S3Uri"], source["S3DataType"], target, f"channel '{name}'", blobs=ctx.blobs,
                shard=(index, count) if distribution == "ShardedByS3Key" else None,
            )  # fmt: skip
            target.mkdir(parents=True, exist_ok=True)  # a host given no object still has its channel folder
            data_config[name] = {
                "TrainingInputMode": channel.get("InputMode", algorithm.get("TrainingInputMode", "File")),
                "S3DistributionType": distribution,
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                **({"ContentType": channel["ContentType"]} if "ContentType" in channel else {}),
            }
        config = job_dir / "input" / "config"
        resources = _resource_config(args.get("ResourceConfig", {}).get("InstanceType"), host, hosts)
        _write_json(config / "hyperparameters.json", hyperparameters)
        _write_json(config / "inputdataconfig.json", data_config)
        _write_json(config / "resourceconfig.json", resources)
        for folder in ("model", "output/data", "checkpoints"):
            (job_dir / folder).mkdir(parents=True, exist_ok=True)
        toolkit: dict[str, str] = {}
        cwd = sandbox.CONTAINER_ROOT
        command = entrypoint
        if command is None:  # what the framework image's training toolkit does inside the container
            script = script_mode.prepare(
                s3=ctx.s3, step=ctx.step, job_dir=job_dir, job_name=job_name, region=ctx.region,
                hyperparameters=hyperparameters, data_config=data_config, resource_config=resources,
            )  # fmt: skip
            command, toolkit, cwd = script.command, script.environment, script.workdir
        env = sandbox.job_environment(
            {
                "TRAINING_JOB_NAME": job_name, "TRAINING_JOB_ARN": ctx.arn("training-job", job_name),
                **declared, **toolkit, **cluster,
            },
            ctx.aws_env,
        )  # fmt: skip
        host_logs = ctx.step_dir if count == 1 else ctx.step_dir / host
        runs.append((job_dir, command, env, cwd, host_logs, host if count > 1 else ""))
    with ThreadPoolExecutor(max_workers=count) as pool:  # the hosts of a distributed job wait for each other
        futures = [
            pool.submit(_execute, ctx, job_dir, command, env, timeout, cwd, logs=logs, host=host)
            for job_dir, command, env, cwd, logs, host in runs
        ]
        for future in futures:
            future.result()
    job_dir, logs_dir = runs[0][0], runs[0][4]
    output_path = args["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    model_uri = f"{output_path}/{job_name}/output/model.tar.gz"
    _upload_tar(ctx.s3, job_dir / "model", model_uri)
    if any((job_dir / "output" / "data").iterdir()):
        _upload_tar(ctx.s3, job_dir / "output" / "data", f"{output_path}/{job_name}/output/output.tar.gz")
    logs = "\n".join(p.read_text(errors="replace") for p in (logs_dir / "stdout.log", logs_dir / "stderr.log"))
    return {
        **args,
        "TrainingJobName": job_name,
        "TrainingJobArn": ctx.arn("training-job", job_name),
        "TrainingJobStatus": "Completed",
        "HyperParameters": hyperparameters,
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "FinalMetricDataList": final_metrics(algorithm.get("MetricDefinitions", []), logs),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def final_metrics(definitions: list[dict[str, str]], logs: str) -> list[dict[str, Any]]:
    """Each MetricDefinition's last match in the job's logs (SageMaker reads the first group of its Regex)."""
    metrics = []
    for definition in definitions:
        matches = re.findall(definition["Regex"], logs)
        if matches:
            last = matches[-1]
            metrics.append(
                {"MetricName": definition["Name"], "Value": float(last[0] if isinstance(last, tuple) else last)}
            )
    return metrics


def pack_folder(folder: Path, archive: Path) -> None:
    """`folder` as a training job packs /opt/ml/model into model.tar.gz: gzipped tar, paths relative to it."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)


def _upload_tar(s3: Any, folder: Path, uri: str) -> None:
    archive = folder.parent / (folder.name + ".tar.gz")
    pack_folder(folder, archive)
    bucket, key = s3io.split_uri(uri)
    s3.upload_file(str(archive), bucket, key)
