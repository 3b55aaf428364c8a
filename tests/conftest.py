"""Shared fixtures: one synthesis of the whole app per test session, read back as plain templates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# jsii starts its node process at `import aws_cdk`: these must be set before any test module imports it.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
# One OpenMP thread per process (set before XGBoost's libgomp loads; the steps' subprocesses inherit it): pytest-xdist
# already runs a worker per core, and OpenMP threads that find their core busy spin instead of sleeping. Measured on
# this 2-core machine under the suite's load: training the Adult model cost 10 s of CPU with 2 threads, 0.6 s with 1.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

from config import PlatformConfig, load_config
from tests import prebuild
from tests.once import shared_folder
from tests.pipeline_definition.offline_generation import OUT_VARIABLE
from tests.release_synthesis import ReleaseSynthesis, read_release
from tests.synthesis import Synthesis, read_synthesis

ROOT = Path(__file__).resolve().parent.parent
_background: list[subprocess.Popen[bytes]] = []


def _selected_paths(config: pytest.Config) -> list[Path]:
    return [Path(arg.split("::")[0]).resolve() for arg in config.args] or [ROOT / "tests"]


def _selects_pipeline_definition_tests(config: pytest.Config) -> bool:
    target = ROOT / "tests" / "pipeline_definition"
    paths = _selected_paths(config)
    return any(target == path or target.is_relative_to(path) or path.is_relative_to(target) for path in paths)


def pytest_configure(config: pytest.Config) -> None:
    """Every process of the suite: botocore's data files parsed once (`botocore_data`), full garbage collections
    made rare and skipped at exit (`pipeline_definition.heap`). Then the offline SDK build, started once (in the
    controller when tests run in parallel), in the background."""
    from pipeline_definition import botocore_data, heap

    botocore_data.share_for_process()
    heap.long_lived()  # pytest-xdist waits for each worker to end: its shutdown is on the suite's clock
    if hasattr(config, "workerinput") or config.option.collectonly or not _selects_pipeline_definition_tests(config):
        return
    out = tempfile.mkdtemp(prefix="mlops-offline-generation-")
    os.environ[OUT_VARIABLE] = out  # with pytest-xdist, the workers (started later) inherit it
    script = ROOT / "tests" / "pipeline_definition" / "offline_generation.py"
    log = Path(out) / "child.log"
    with log.open("wb") as output:
        _background.append(subprocess.Popen([sys.executable, str(script), out], stdout=output, stderr=output))


def _selects_the_whole_suite(config: pytest.Config) -> bool:
    return all(path in (ROOT, ROOT / "tests") for path in _selected_paths(config))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """The controller of a parallel run of the whole suite starts the shared folders' builds (`tests.prebuild`)
    before it starts the workers."""
    config = session.config
    parallel = not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None)
    if parallel and not config.option.collectonly and _selects_the_whole_suite(config):
        _background.extend(prebuild.start(config._tmp_path_factory.getbasetemp()))  # the workers' shared root


def pytest_unconfigure(config: pytest.Config) -> None:
    for process in _background:
        if process.poll() is None:
            process.kill()
        process.wait()
    if _background and (out := os.environ.pop(OUT_VARIABLE, None)):
        shutil.rmtree(out, ignore_errors=True)


# Test files whose tests share expensive module or session state (one local twin and one pipeline run for the whole
# file; one whole loop run): with pytest-xdist each runs on one worker, instead of once per worker. xdist's own
# `loadgroup` cannot do it with pytest 9 (it renames `item._nodeid`, which pytest 9 no longer reads).
SHARED_STATE_FILES = (
    "tests/pipeline_definition/test_local_runner.py",
    "tests/twin/test_loop.py",
    "tests/datasets/test_second_dataset.py",  # the second data set: its definitions, its loop
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Load balancing test by test (as `--dist load`), except that each SHARED_STATE_FILES file is one unit."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduler(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path in SHARED_STATE_FILES else nodeid

    return Scheduler(config, log)


# What `model_monitor_synthesis` imports (its prod's `network`): a VPC and two subnets by id, groups created.
IMPORTED_NETWORK = {
    "mode": "import",
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "subnet_ids": ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"],
}


@pytest.fixture(scope="session")
def platform_config() -> PlatformConfig:
    return load_config(ROOT / "config" / "environments.yaml")


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Synthesis:
    """The app exactly as `make synth` builds it (same config, same feature flags, cdk-nag on)."""
    return read_synthesis(shared_folder(tmp_path_factory, worker_id, "cdk.out", prebuild.synthesis))


@pytest.fixture(scope="session")
def model_monitor_synthesis(
    platform_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Synthesis:
    """prod with `monitoring.backend: model-monitor`, through create_app so cdk-nag applies (it fails synth).

    Only the monitoring section changes: the committed prod training definition (native checks off) stays in use,
    since switching native checks on would change its fingerprint and make synth rebuild the committed files.
    The same synthesis is the one of `network.mode: import` (`IMPORTED_NETWORK`, subnets and VPC by id): the
    definitions only know that jobs run in a VPC, not which, so they stay the committed ones too.
    """
    from app import create_app

    prod = platform_config.environment("prod")
    prod = prod.model_copy(update={"monitoring": prod.monitoring.model_copy(update={"backend": "model-monitor"})})
    prod = prod.model_copy(update={"network": prod.network.model_copy(update=IMPORTED_NETWORK)})
    # prod alone: it promotes its own packages here (its source, staging, is not in this app)
    prod = prod.model_copy(update={"promotion": prod.promotion.model_copy(update={"source": "own"})})
    config = platform_config.model_copy(update={"environments": {"prod": prod}})

    def build(outdir: Path) -> None:
        create_app(config, outdir=str(outdir)).synth()

    return read_synthesis(shared_folder(tmp_path_factory, worker_id, "cdk.out-model-monitor", build))


# An ingestion source as a team would configure it (tests/stacks/test_ingestion.py): a rotated RDS secret under a
# customer managed key, a table, a column mapping, private subnets.
INGESTION_SECTION = {
    "source_name": "adult-db",
    "connection": {
        "host": "adult.cluster-abc123def456.eu-west-1.rds.amazonaws.com",
        "database": "census",
        "secret_arn": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:adult-db-AbCdEf",
        "secret_kms_key_arn": "arn:aws:kms:eu-west-1:111111111111:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
    },
    "table": "public.adult",
    "watermark_column": "updated_at",
    "columns": {"Y": "income", "hours-per-week": "hours_per_week"},
    "schedule": "rate(1 hour)",
    "network": {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]},
}


@pytest.fixture(scope="session")
def ingestion_synthesis(
    platform_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Synthesis:
    """dev with an `ingestion` section, through create_app so cdk-nag applies. The ingestion definition does not
    depend on the section, so the committed definitions stay fresh."""
    from app import create_app
    from config.sections import IngestionSettings

    dev = platform_config.environment("dev")
    ingestion = IngestionSettings.model_validate(INGESTION_SECTION, strict=False)
    config = platform_config.model_copy(
        update={"environments": {"dev": dev.model_copy(update={"ingestion": ingestion})}}
    )

    def build(outdir: Path) -> None:
        create_app(config, outdir=str(outdir)).synth()

    return read_synthesis(shared_folder(tmp_path_factory, worker_id, "cdk.out-ingestion", build))


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> ReleaseSynthesis:
    """The app with `-c release=true` (`tests.release_synthesis`): the pipeline and the stages it deploys."""
    return read_release(shared_folder(tmp_path_factory, worker_id, "cdk.out.release", prebuild.release))


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One local run of every ML step on the shipped Adult data with every shift scenario (validate, preprocess,
    train, evaluate, bias, drift), once per test run: the ML steps' tests and the contract tests read it."""
    return shared_folder(tmp_path_factory, worker_id, "local-run", prebuild.local_run)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported so far (CDK's modules, botocore's models, moto) lives as long as the worker: moved out of
    the garbage collector's generations, so that its full collections during the tests and pytest's at exit do not
    walk it again each time (`pipeline_definition.heap.settle`)."""
    from pipeline_definition import heap

    heap.settle()
