"""Everything one loop run composes: the synthesized dev stage on moto, its functions, event routes and runners."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from naming import ResourceNames
from pipeline_definition.local_runner.twin import TwinNames, dataset_files
from twin.assembly import StageTemplates
from twin.aws import create_stage, twin_names
from twin.events import EventRoutes
from twin.lambdas import Function
from twin.timeline import StepError

ROOT = Path(__file__).resolve().parent.parent
NEW_DATA = "retrain-on-new-data"
DRIFT = "retrain-on-drift"
PROMOTION = "promotion"


@dataclass
class SimulatedClock:
    """The triggers' clock: the loop compresses days into a minute, so the retraining cooldown (hours) is
    crossed by moving this clock on, never by changing the cooldown the templates deploy."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += timedelta(hours=hours)


@dataclass
class World:
    stage: StageTemplates
    project: str
    environment: str
    clients: dict[str, Any]
    workdir: Path
    sample_rows: int | None = None  # the first N lines of each landed data file (None: all)
    names: dict[str, str] = field(default_factory=dict)  # placeholder -> the twin's name
    routes: EventRoutes | None = None
    functions: dict[str, Function] = field(default_factory=dict)
    clock: SimulatedClock = field(default_factory=SimulatedClock)
    runner: Any = None
    runner_error: str = ""

    @property
    def project_env(self) -> str:
        """`<project>-<env>`, the prefix of every name in the stage (from its training pipeline's name)."""
        return self.pipeline("training").removesuffix("-training")

    def pipeline(self, kind: str) -> str:
        for name in self.stage.names("AWS::SageMaker::Pipeline"):
            if name.endswith(f"-{self.environment}-{kind}"):
                return name
        raise StepError(f"the stage deploys no {kind} pipeline")

    @property
    def twin_names(self) -> TwinNames:
        return twin_names(self.stage, self.project, self.environment)

    @property
    def resources(self) -> ResourceNames:
        """The environment's names as every part of the platform builds them (naming.ResourceNames)."""
        return self.twin_names.resources

    def setup(self, defaults: dict[str, dict[str, Any]], function_overrides: dict[str, dict[str, str]]) -> None:
        """`function_overrides`: per function (NEW_DATA, DRIFT), environment variables that replace the
        synthesized ones (listed in the loop's output, like the definitions' `defaults`)."""
        c = self.clients
        self.names = create_stage(c, self.stage, self.twin_names, defaults=defaults)
        self.routes = EventRoutes(c["events"], c["sqs"])
        for name, module in (
            (NEW_DATA, "lambdas.retrain_on_new_data.handler"),
            (DRIFT, "lambdas.retrain_on_drift.handler"),
        ):
            function = Function(
                self.stage, f"{self.project_env}-{name}", module, self.workdir / "logs", function_overrides.get(name)
            )
            self.functions[name] = function
            self.routes.route(name, self.stage.rules_targeting(function.arn))
        machine = self.stage.named("AWS::StepFunctions::StateMachine", self.resources.promotion_state_machine)
        self.routes.route(PROMOTION, self.stage.rules_targeting(self.stage.arn(machine)))
        self._make_runner()

    def _make_runner(self) -> None:
        try:
            from pipeline_definition.local_runner import LocalRunner, StepCache
        except ImportError as error:
            self.runner_error = f"the local runner (pipeline_definition.local_runner) is not available: {error}"
            return
        self.runner = LocalRunner(
            s3=self.clients["s3"],
            sagemaker=self.clients["sagemaker"],
            workdir=self.workdir / "runs",
            cache=StepCache(self.workdir / "step-cache"),
            region=self.stage.region,
            placeholders=self.names,
            parallel_steps=2,  # as SageMaker runs ready steps together (IngestFeatures beside TrainModel, ...)
        )

    def run(self, execution_arn: str) -> Any:
        """Execute a moto pipeline execution with the local runner; its RunResult."""
        if self.runner is None:
            raise StepError(self.runner_error)
        return self.runner.run_execution(execution_arn)

    # ------------------------------------------------------------ the raw zone and the triggers

    @property
    def data_files(self) -> list[Path]:
        """The stage's data set's shipped files (`data/<dataset>/`), in name order."""
        return dataset_files(self.stage.dataset)

    def land(self, data_file: Path) -> str:
        """Put one shipped data file (uncompressed, as a producer would write it; its first `sample_rows` lines)
        into the raw zone under the data set's prefix; its S3 URI."""
        body = data_file.read_bytes()
        if data_file.suffix == ".gz":
            body = gzip.decompress(body)
        key = f"{self.resources.raw_training_prefix}{data_file.name.removesuffix('.gz')}"
        if self.sample_rows is not None:
            body = b"".join(body.splitlines(keepends=True)[: self.sample_rows])
        bucket = self.stage.bucket("raw")
        self.clients["s3"].put_object(Bucket=bucket, Key=key, Body=body)
        return f"s3://{bucket}/{key}"

    def deliver(self, consumer: str, events: list[dict[str, Any]] | None = None) -> list[tuple[dict[str, Any], Any]]:
        """Hand what the rules routed to `consumer` (or `events`) to its handler; (event, result) pairs."""
        assert self.routes is not None
        function = self.functions[consumer]
        function.module.starter.clock = self.clock  # the only seam: time, see SimulatedClock
        return [(event, function.invoke(event)) for event in (events or self.routes.received(consumer))]

    def executions(self, kind: str = "training") -> list[str]:
        summaries = self.clients["sagemaker"].list_pipeline_executions(
            PipelineName=self.pipeline(kind), SortBy="CreationTime", SortOrder="Ascending"
        )["PipelineExecutionSummaries"]
        return [s["PipelineExecutionArn"] for s in summaries]

    def parameters_of(self, execution_arn: str) -> dict[str, str]:
        response = self.clients["sagemaker"].list_pipeline_parameters_for_execution(PipelineExecutionArn=execution_arn)
        return {p["Name"]: p["Value"] for p in response["PipelineParameters"]}

    def started(self, results: list[tuple[dict[str, Any], Any]], trigger: str) -> str:
        """The one execution the handler results say was started, checked on moto (exists, Trigger set)."""
        arns = [r["execution_arn"] for _, r in results if isinstance(r, dict) and r.get("outcome") == "started"]
        if len(arns) != 1:
            outcomes = [(r.get("outcome"), r.get("reason"), r.get("detail")) for _, r in results if isinstance(r, dict)]
            raise StepError(f"expected one started execution, handler results: {outcomes or 'no event delivered'}")
        (arn,) = arns
        if arn not in self.executions():
            raise StepError(f"the handler returned {arn}, which moto does not list")
        found = self.parameters_of(arn).get("Trigger")
        if found != trigger:
            raise StepError(f"{arn} has Trigger={found!r}, expected {trigger!r}")
        return str(arn)

    # ------------------------------------------------------------ S3 helpers

    def keys(self, bucket: str, prefix: str) -> list[str]:
        paginator = self.clients["s3"].get_paginator("list_objects_v2")
        return [o["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]

    def read_json(self, bucket: str, key: str) -> Any:
        return json.loads(self.clients["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())
