"""Script mode of SageMaker's framework training containers, as the sagemaker-training toolkit implements it.

A training job on a framework image (XGBoost, scikit-learn, the PyTorch/TensorFlow deep-learning containers) that
names no ContainerEntrypoint runs the image's entrypoint, which is the toolkit: with a `sagemaker_program`
hyper-parameter it
- materialises `sagemaker_submit_directory` into /opt/ml/code (`files.download_and_extract`): an `s3://` URI of a
  tar.gz, a local directory (copied), or a local tar.gz; default /opt/ml/code itself;
- splits the `sagemaker_*` (and `_tuning_objective_metric`) hyper-parameters off the user's ones, each value
  JSON-decoded when it parses (`environment.read_hyperparameters`);
- sets the SM_* variables (`Environment.to_env_vars`) and PYTHONPATH with the code folder first;
- runs, from /opt/ml/code, `python <program> --name value ...` (the user hyper-parameters sorted by name, `-x` for
  one-letter names: `mapping.to_cmd_args`), or `./<program> args` through /bin/sh for any other file.
Without `sagemaker_program` the XGBoost image trains its built-in algorithm, which is not emulated here.

Locally the job folder is /opt/ml (see sandbox.py), so the same paths hold; "local" paths of the submit directory
must be under /opt/ml (e.g. a channel), since the image's own file system does not exist here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline_definition.local_runner import s3io, sandbox
from pipeline_definition.local_runner.errors import StepFailed, UnsupportedConstruct

PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
# params.SAGEMAKER_HYPERPARAMETERS: the toolkit's own, besides any other `sagemaker_` name
_TOOLKIT_NAMES = ("default_user_module_name", "_tuning_objective_metric")
CODE_DIR = f"{sandbox.CONTAINER_ROOT}/code"
# SageMaker's framework training images (ECR accounts differ per region), whose entrypoint is the toolkit
FRAMEWORK_IMAGE = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
    r"(sagemaker-xgboost|sagemaker-scikit-learn|pytorch-training|tensorflow-training|huggingface-pytorch-training):"
)


def is_framework_image(image: str) -> bool:
    return FRAMEWORK_IMAGE.match(image) is not None


def check_script_mode(step: str, image: str, hyperparameters: dict[str, Any]) -> None:
    """Refuse, before any job runs, a job whose image would run something the runner cannot know."""
    if not is_framework_image(image):
        raise UnsupportedConstruct(
            step,
            f"no ContainerEntrypoint: the image {image} would run its own entrypoint, which is unknown locally "
            "(the SageMaker Distribution image has none that runs a job; script mode is emulated only for "
            "SageMaker's framework images)",
        )
    if PROGRAM not in hyperparameters:
        raise UnsupportedConstruct(
            step, f"the framework image {image} without a '{PROGRAM}' hyper-parameter (its built-in algorithm mode)"
        )


def decode(value: str) -> Any:
    """A hyper-parameter as the toolkit reads it: JSON when it parses, else the string itself."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


def _arg_value(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)


def to_cmd_args(hyperparameters: dict[str, Any]) -> list[str]:
    """`--name value` per hyper-parameter, sorted by name (`-n` for a one-letter name), as the toolkit passes them."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        args += [f"--{name}" if len(name) > 1 else f"-{name}", _arg_value(hyperparameters[name])]
    return args


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class ScriptJob:
    command: list[str]
    environment: dict[str, str]
    workdir: str  # the toolkit starts the program from the code folder


def prepare(
    *,
    s3: Any,
    step: str,
    job_dir: Path,
    job_name: str,
    region: str,
    hyperparameters: dict[str, str],
    data_config: dict[str, Any],
    resource_config: dict[str, Any],
) -> ScriptJob:
    """Materialise the submit directory in `job_dir`/code and return the command and SM_* variables to run it."""
    decoded = {name: decode(value) for name, value in hyperparameters.items()}
    framework = {k: v for k, v in decoded.items() if k.startswith("sagemaker_") or k in _TOOLKIT_NAMES}
    user = {k: v for k, v in decoded.items() if k not in framework}
    program = str(framework[PROGRAM])
    submit = str(framework.get(SUBMIT_DIRECTORY, CODE_DIR))
    code = job_dir / "code"
    _materialise(s3, step, job_dir, submit, code)
    if (code / "setup.py").is_file() or (not program.endswith(".sh") and (code / "requirements.txt").is_file()):
        raise UnsupportedConstruct(
            step, f"the submit directory {submit} holds setup.py or requirements.txt: the toolkit would pip install it"
        )
    if not (code / program).is_file():
        listing = sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())[:10]
        raise StepFailed(
            f"{PROGRAM} '{program}' is not in the submit directory {submit} (it holds {listing or 'nothing'}): "
            "the training toolkit fails the job (ExecuteUserScriptError)"
        )
    args = to_cmd_args(user)
    if program.endswith(".py"):
        command = ["python3", program, *args]
    else:  # a command: made executable and started through the shell, as the toolkit does
        (code / program).chmod(0o777)
        command = ["/bin/sh", "-c", f"./{program} {' '.join(args)}"]
    root = sandbox.CONTAINER_ROOT
    hosts = resource_config["hosts"]
    training_env = {
        "channel_input_dirs": {name: f"{root}/input/data/{name}" for name in data_config},
        "current_host": resource_config["current_host"],
        "hosts": hosts,
        "hyperparameters": user,
        "input_data_config": data_config,
        "job_name": job_name,
        "model_dir": f"{root}/model",
        "module_dir": submit,
        "module_name": program.removesuffix(".py"),
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "output_data_dir": f"{root}/output/data",
        "resource_config": resource_config,
        "user_entry_point": program,
    }
    variables: dict[str, Any] = {
        **{k: v for k, v in training_env.items() if k not in ("channel_input_dirs", "hyperparameters", "job_name")},
        "channels": sorted(data_config),
        "current_instance_type": resource_config.get("current_instance_type", "local"),
        "current_instance_group": resource_config.get("current_group_name", "homogeneousCluster"),
        "framework_params": {k: v for k, v in framework.items() if k not in (PROGRAM, SUBMIT_DIRECTORY)},
        "hps": user,
        "input_dir": f"{root}/input",
        "input_config_dir": f"{root}/input/config",
        "log_level": framework.get("sagemaker_container_log_level", 20),
        "network_interface_name": resource_config.get("network_interface_name", "eth0"),
        "output_dir": f"{root}/output",
        "output_intermediate_dir": f"{root}/output/intermediate",
        "training_env": training_env,
        "user_args": args,
        **{f"channel_{name}": path for name, path in training_env["channel_input_dirs"].items()},
        **{f"hp_{name}": value for name, value in user.items()},
    }
    environment = {f"SM_{name.upper()}": _env_value(value) for name, value in variables.items()}
    environment |= {
        "PYTHONPATH": CODE_DIR,
        "CURRENT_HOST": resource_config["current_host"],
        "SAGEMAKER_JOB_NAME": str(framework.get("sagemaker_job_name", "")),
        "SAGEMAKER_REGION": str(framework.get("sagemaker_region", region)),
    }
    return ScriptJob(command=command, environment=environment, workdir=CODE_DIR)


def _materialise(s3: Any, step: str, job_dir: Path, submit: str, code: Path) -> None:
    """`files.download_and_extract`: an S3 tar.gz, or a directory / tar.gz inside the container."""
    code.mkdir(parents=True, exist_ok=True)
    if submit.startswith("s3://"):
        archive = job_dir.parent / "sourcedir.tar.gz"
        bucket, key = s3io.split_uri(submit)
        try:
            s3.download_file(bucket, key, str(archive))
        except Exception as err:  # botocore's ClientError for a missing object, named here
            raise StepFailed(f"{SUBMIT_DIRECTORY} {submit}: cannot download it: {err}") from err
        _extract(archive, code, submit)
        return
    path = PurePosixPath(submit)
    if not path.is_relative_to(sandbox.CONTAINER_ROOT):
        raise UnsupportedConstruct(
            step, f"{SUBMIT_DIRECTORY} '{submit}' is in the image's file system, which does not exist locally"
        )
    local = job_dir / path.relative_to(sandbox.CONTAINER_ROOT)
    if local == code:
        return  # the default: the code is already in /opt/ml/code, or the program is missing (reported by prepare)
    if local.is_dir():
        shutil.rmtree(code)
        shutil.copytree(local, code)
    elif local.is_file() and tarfile.is_tarfile(local):
        _extract(local, code, submit)
    else:
        raise StepFailed(f"{SUBMIT_DIRECTORY} '{submit}' is neither a directory nor a tar.gz in the container")


def _extract(archive: Path, code: Path, what: str) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(code, filter="data")  # refuses paths outside `code`, as the toolkit's safe_extract does
    except (tarfile.TarError, OSError) as err:
        raise StepFailed(f"{SUBMIT_DIRECTORY} {what}: not a usable tar.gz: {err}") from err
