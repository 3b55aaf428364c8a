"""LocalRunner: executes a committed SageMaker pipeline definition against a local twin (moto S3 and SageMaker).

The definition is the document CDK deploys: placeholders replaced by plain string substitution, nothing else
re-described. Steps start in definition order as soon as their data dependencies (Get Steps.X...) and DependsOn
have succeeded, up to `parallel_steps` at a time (SageMaker runs every ready step at once; one at a time by
default, so a run's logs read in order); a failed step stops the run (no new step starts, the running ones
finish), as in SageMaker.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline_definition.contract import PLACEHOLDERS
from pipeline_definition.local_runner import s3io
from pipeline_definition.local_runner.cache import CacheEntry, StepCache, cache_key_attributes, expire_after
from pipeline_definition.local_runner.errors import InvalidParameters, StepFailed, UnsupportedConstruct
from pipeline_definition.local_runner.expressions import Context, ExpressionError, UnsupportedExpression, render, walk
from pipeline_definition.local_runner.featurestore import FeatureStoreRuntime
from pipeline_definition.local_runner.jobs import JobContext, run_processing, run_training
from pipeline_definition.local_runner.registry import register_model
from pipeline_definition.local_runner.steps import branch_steps, evaluate, references
from pipeline_definition.local_runner.transform import run_transform
from pipeline_definition.local_runner.tuning import run_tuning

DEFAULT_ACCOUNT = "123456789012"  # moto's default account


@dataclass
class StepRecord:
    name: str
    type: str
    status: str  # Succeeded | Failed | Skipped | Executing
    cache_hit: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0  # wall time of the step (a cache hit takes next to none)


@dataclass
class RunResult:
    status: str  # Succeeded | Failed
    failure_reason: str | None
    steps: list[StepRecord]
    parameters: dict[str, Any]
    model_package_arn: str | None
    execution_arn: str

    def step(self, name: str) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(f"no step '{name}' in this run (steps: {', '.join(r.name for r in self.steps)})")


def resolve_parameters(declared: list[dict[str, Any]], given: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults from the definition, overrides typed per the declared Type; SageMaker refuses undeclared names."""
    by_name = {p["Name"]: p for p in declared}
    unknown = sorted(set(given or {}) - set(by_name))
    if unknown:
        raise InvalidParameters(f"undeclared pipeline parameter(s) {unknown}; declared: {sorted(by_name)}")
    values: dict[str, Any] = {}
    for name, spec in by_name.items():
        if name not in (given or {}):
            if "DefaultValue" not in spec:
                raise InvalidParameters(f"parameter '{name}' has no default and no value was given")
            values[name] = spec["DefaultValue"]
            continue
        raw = (given or {})[name]
        try:
            values[name] = _typed(spec.get("Type", "String"), raw)
        except ValueError as err:
            raise InvalidParameters(f"parameter '{name}' ({spec.get('Type')}): {raw!r} is not valid: {err}") from err
        if spec.get("EnumValues") and values[name] not in spec["EnumValues"]:
            raise InvalidParameters(f"parameter '{name}': {raw!r} is not one of {spec['EnumValues']}")
    return values


def _typed(kind: str, raw: Any) -> Any:
    if kind == "Integer":
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError("not an integer")
        return int(raw) if not isinstance(raw, str) else int(raw.strip())
    if kind == "Float":
        return float(raw)
    if kind == "Boolean":
        text = str(raw).lower()
        if text not in ("true", "false"):
            raise ValueError("expected true or false")
        return text == "true"
    return str(raw)


def render_definition(definition: dict[str, Any] | Path | str, placeholders: dict[str, str]) -> dict[str, Any]:
    """The definition with placeholders replaced, as CDK does it: a plain replacement in the JSON text."""
    text = Path(definition).read_text() if isinstance(definition, Path) else definition
    text = text if isinstance(text, str) else json.dumps(text)
    for placeholder, value in placeholders.items():
        text = text.replace(placeholder, value)
    left = sorted(name for name, value in PLACEHOLDERS.items() if value in text)
    if left:
        raise ValueError(f"the definition still holds placeholders with no value in `placeholders`: {left}")
    document: dict[str, Any] = json.loads(text)
    return document


class LocalRunner:
    def __init__(
        self,
        *,
        s3: Any,
        sagemaker: Any,
        workdir: Path,
        cache: StepCache,
        region: str,
        placeholders: dict[str, str],
        max_tuning_trials: int = 3,
        check_service_constraints: bool = True,
        parallel_steps: int = 1,
    ) -> None:
        if parallel_steps < 1:
            raise ValueError(f"parallel_steps must be at least 1, got {parallel_steps}")
        endpoint = str(s3.meta.endpoint_url)
        if "amazonaws.com" in endpoint:
            raise ValueError(f"the local runner runs against a local twin (moto), not AWS: s3 endpoint {endpoint}")
        self.s3, self.sagemaker, self.cache, self.region = s3, sagemaker, cache, region
        self.workdir = Path(workdir)
        self.placeholders = dict(placeholders)
        self.max_tuning_trials = max_tuning_trials
        self.check_service_constraints = check_service_constraints
        self.parallel_steps = parallel_steps
        self._feature_store: FeatureStoreRuntime | None = None
        self._feature_store_lock = threading.Lock()  # jobs of one run may start together
        self._endpoint = endpoint

    def close(self) -> None:
        if self._feature_store:
            self._feature_store.close()
            self._feature_store = None

    def _aws_env(self) -> dict[str, str]:
        """What a job needs to reach the twin: its endpoint, credentials and region (and the Feature Store runtime)."""
        with self._feature_store_lock:
            if self._feature_store is None:
                self._feature_store = FeatureStoreRuntime(self.sagemaker, self.workdir / "feature-store")
        credentials = self.s3._request_signer._credentials.get_frozen_credentials()
        return {
            "AWS_ENDPOINT_URL": self._endpoint,
            "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME": self._feature_store.url,
            "AWS_ACCESS_KEY_ID": credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def run_execution(self, pipeline_execution_arn: str) -> RunResult:
        """Run an execution started on the twin (StartPipelineExecution): its pipeline's definition and parameters."""
        execution = self.sagemaker.describe_pipeline_execution(PipelineExecutionArn=pipeline_execution_arn)
        name = execution["PipelineArn"].rsplit("/", 1)[-1]
        # the definition as it was when the execution started (a later UpdatePipeline does not change what it runs)
        body = self.sagemaker.describe_pipeline_definition_for_execution(PipelineExecutionArn=pipeline_execution_arn)
        given: dict[str, str | int | float] = {}
        pages = self.sagemaker.get_paginator("list_pipeline_parameters_for_execution")
        for page in pages.paginate(PipelineExecutionArn=pipeline_execution_arn):
            given |= {p["Name"]: p["Value"] for p in page.get("PipelineParameters", [])}
        return self.run(json.loads(body["PipelineDefinition"]), given, pipeline_execution_arn, pipeline_name=name)

    def run(
        self,
        definition: dict[str, Any] | Path,
        parameters: dict[str, str | int | float] | None = None,
        execution_arn: str | None = None,
        *,
        pipeline_name: str | None = None,
    ) -> RunResult:
        document = render_definition(definition, self.placeholders)
        values = resolve_parameters(document.get("Parameters", []), dict(parameters or {}))
        if execution_arn:  # arn:aws:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>
            parts = execution_arn.split(":")
            account, (_, name, _, execution_id) = parts[4], parts[5].split("/")
            pipeline_name = pipeline_name or name
        else:
            account = DEFAULT_ACCOUNT
            execution_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))
            default = Path(definition).stem if isinstance(definition, Path) else "local-pipeline"
            pipeline_name = pipeline_name or default
            execution_arn = (
                f"arn:aws:sagemaker:{self.region}:{account}:pipeline/{pipeline_name}/execution/{execution_id}"
            )
        run = _Execution(self, document, values, pipeline_name, execution_arn, execution_id, account)
        result = run.execute()
        folder = self.workdir / execution_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").write_text(json.dumps(asdict(result), indent=1, default=str))
        return result


class _Execution:
    """One run: records, properties of finished steps, and the order in which steps start."""

    def __init__(
        self, runner: LocalRunner, document: dict[str, Any], parameters: dict[str, Any], pipeline: str,
        arn: str, execution_id: str, account: str,
    ) -> None:  # fmt: skip
        self.runner, self.document, self.parameters, self.pipeline = runner, document, parameters, pipeline
        self.arn, self.execution_id, self.account = arn, execution_id, account
        self.started = datetime.now(UTC)
        self.records: dict[str, StepRecord] = {}
        self.properties: dict[str, dict[str, Any]] = {}
        self.definitions: dict[str, dict[str, Any]] = {}
        self._register(document.get("Steps", []))
        for step in self.definitions.values():
            unknown = self._dependencies(step) - set(self.definitions)
            if unknown:
                raise ValueError(f"step '{step['Name']}' refers to unknown step(s) {sorted(unknown)}")
        self.context = Context(
            parameters=parameters,
            execution={
                "PipelineExecutionId": execution_id,
                "PipelineExecutionArn": arn,
                "PipelineName": pipeline,
                "StartDateTime": _iso(self.started),
                "CurrentDateTime": _iso(self.started),
            },
            step_property=self._step_property,
            property_file=self._property_file,
        )
        self._files: dict[tuple[str, str], Any] = {}

    def _register(self, steps: list[dict[str, Any]]) -> None:
        for step in steps:
            if step["Name"] in self.definitions:
                raise ValueError(f"two steps are named '{step['Name']}'")
            self.definitions[step["Name"]] = step
            self._register(branch_steps(step))

    @staticmethod
    def _dependencies(step: dict[str, Any]) -> set[str]:
        arguments = step.get("Arguments", {})
        own = arguments.get("Conditions", []) if step["Type"] == "Condition" else arguments
        return references(own) | references(step.get("PropertyFiles", [])) | set(step.get("DependsOn", []))

    def _step_property(self, step: str, tokens: list[str | int]) -> Any:
        if step not in self.properties:
            raise ExpressionError(f"step '{step}' has not succeeded in this run, its properties do not exist")
        return walk(self.properties[step], tokens, f"Steps.{step}")

    def _property_file(self, step: str, name: str) -> Any:
        if (step, name) not in self._files:
            spec = next(
                (p for p in self.definitions[step].get("PropertyFiles", []) if p["PropertyFileName"] == name), None
            )
            if spec is None:
                raise ExpressionError(f"step '{step}' declares no PropertyFile '{name}'")
            uri = self._step_property(
                step, ["ProcessingOutputConfig", "Outputs", spec["OutputName"], "S3Output", "S3Uri"]
            )
            try:
                self._files[(step, name)] = s3io.read_json(self.runner.s3, f"{uri.rstrip('/')}/{spec['FilePath']}")
            except Exception as err:
                raise ExpressionError(
                    f"PropertyFile {step}.{name}: cannot read {spec['FilePath']} under {uri}: {err}"
                ) from err
        return self._files[(step, name)]

    def execute(self) -> RunResult:
        pending = list(self.document.get("Steps", []))
        failure: str | None = None
        running: dict[Future[tuple[str | None, list[dict[str, Any]]]], str] = {}
        with ThreadPoolExecutor(max_workers=self.runner.parallel_steps) as pool:
            while True:
                while failure is None and len(running) < self.runner.parallel_steps:
                    ready = next((s for s in pending if self._dependencies(s) <= self._succeeded()), None)
                    if ready is None:
                        break
                    pending.remove(ready)
                    # recorded now, so that the run's steps are listed in the order they started
                    self.records[ready["Name"]] = StepRecord(ready["Name"], ready["Type"], "Executing")
                    running[pool.submit(self._run_step, ready)] = ready["Name"]
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    del running[future]
                    failed, chosen = future.result()  # an unsupported construct is raised, as before
                    failure = failure or failed
                    pending += chosen
        why = (
            f"not started: {failure.split(':')[0]}" if failure else "not started: a step it depends on did not succeed"
        )
        for step in pending:
            self.records[step["Name"]] = StepRecord(step["Name"], step["Type"], "Skipped", message=why)
        steps = list(self.records.values())
        package = next((r.outputs["ModelPackageArn"] for r in steps if "ModelPackageArn" in r.outputs), None)
        return RunResult(
            status="Failed" if failure else "Succeeded",
            failure_reason=failure,
            steps=steps,
            parameters=self.parameters,
            model_package_arn=package,
            execution_arn=self.arn,
        )

    def _succeeded(self) -> set[str]:
        return {name for name, record in self.records.items() if record.status == "Succeeded"}

    def _run_step(self, step: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
        """Run one step; returns the run's failure reason (None if it went on) and the branch steps it started."""
        name, kind = step["Name"], step["Type"]
        record = self.records[name] = StepRecord(name, kind, "Executing")
        started = time.monotonic()
        try:
            return self._run_recorded(step, record)
        finally:
            record.seconds = round(time.monotonic() - started, 2)

    def _run_recorded(self, step: dict[str, Any], record: StepRecord) -> tuple[str | None, list[dict[str, Any]]]:
        name, kind = step["Name"], step["Type"]
        self.context.execution = {**self.context.execution, "CurrentDateTime": _iso(datetime.now(UTC))}
        try:
            arguments = self.context.resolve(step.get("Arguments", {}))
        except UnsupportedExpression as err:
            raise UnsupportedConstruct(name, str(err)) from err
        except ExpressionError as err:
            return self._fail(record, f"Step {name} failed: {err}"), []
        if kind == "Condition":
            try:
                return None, self._condition(record, step, arguments)
            except StepFailed as err:
                return self._fail(record, f"Step {name} failed: {err}"), []
        if kind == "Fail":
            message = render(arguments.get("ErrorMessage", ""))
            return self._fail(record, message), []
        try:
            record.outputs, record.cache_hit, record.message = self._outputs(step, arguments)
        except StepFailed as err:
            return self._fail(record, f"Step {name} failed: {err}"), []
        record.status = "Succeeded"
        self.properties[name] = record.outputs
        return None, []

    def _fail(self, record: StepRecord, reason: str) -> str:
        record.status, record.message = "Failed", reason
        return reason

    def _condition(self, record: StepRecord, step: dict[str, Any], arguments: dict[str, Any]) -> list[dict[str, Any]]:
        outcome = all(evaluate(c, step["Name"]) for c in arguments.get("Conditions", []))
        taken, other = ("IfSteps", "ElseSteps") if outcome else ("ElseSteps", "IfSteps")
        for skipped in step["Arguments"].get(other, []):
            self.records[skipped["Name"]] = StepRecord(
                skipped["Name"], skipped["Type"], "Skipped", message=f"{step['Name']} evaluated to {outcome}"
            )
        record.status, record.outputs = "Succeeded", {"Outcome": str(outcome)}
        record.message = f"conditions {'met' if outcome else 'not met'}: running {taken}"
        self.properties[step["Name"]] = record.outputs
        chosen: list[dict[str, Any]] = []
        for branch_step in step["Arguments"].get(taken, []):
            branch_step = {**branch_step, "DependsOn": [*branch_step.get("DependsOn", []), step["Name"]]}
            chosen.append(branch_step)
        return chosen

    def _outputs(self, step: dict[str, Any], arguments: dict[str, Any]) -> tuple[dict[str, Any], bool, str]:
        """The step's properties: from the cache where SageMaker would reuse them, else by running it."""
        name, kind = step["Name"], step["Type"]
        config = step.get("CacheConfig", {})
        attributes = cache_key_attributes(kind, arguments) if config.get("Enabled") else None
        key = StepCache.key(self.pipeline, name, kind, attributes) if attributes is not None else None
        if key is not None:
            hit = self.runner.cache.lookup(self.pipeline, key, now=self.started, within=expire_after(config, name))
            if hit:
                return hit.properties, True, f"cache hit: outputs of {hit.execution_arn} ({hit.created:%Y-%m-%d %H:%M})"
        properties = self._execute(step, arguments)
        if key is not None and attributes is not None:
            entry = CacheEntry(key, self.pipeline, name, self.arn, datetime.now(UTC), properties)
            self.runner.cache.store(entry, attributes)
        return properties, False, "ran"

    def _execute(self, step: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
        name, kind = step["Name"], step["Type"]
        runner = self.runner
        ctx = JobContext(
            s3=runner.s3, step=name, step_dir=runner.workdir / self.execution_id / name,
            execution_id=self.execution_id, region=runner.region, account=self.account,
            aws_env=runner._aws_env() if kind in ("Processing", "Training", "Tuning") else {},
            blobs=runner.workdir / "s3-objects",
        )  # fmt: skip
        if kind == "Processing":
            return run_processing(ctx, arguments)
        if kind == "Training":
            return run_training(ctx, arguments)
        if kind == "Tuning":
            return run_tuning(ctx, arguments, max_trials=runner.max_tuning_trials)
        if kind == "RegisterModel":
            return register_model(runner.sagemaker, name, arguments, check=runner.check_service_constraints)
        if kind == "Transform":
            return run_transform(ctx, runner.sagemaker, arguments)
        raise UnsupportedConstruct(name, f"step type '{kind}'")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
