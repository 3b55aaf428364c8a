"""The loop's steps, in order. Each checks its evidence on moto (or in the run's files) before it is ok."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lambdas.retrain_on_drift.events import VIOLATIONS_REPORT
from twin import capture
from twin.events import ALARM_STATE_CHANGE, MODEL_PACKAGE_STATE_CHANGE, alarm_state_change, model_package_state_change
from twin.moto_patches import set_model_behaviour
from twin.timeline import StepError, Timeline
from twin.world import DRIFT, NEW_DATA, PROMOTION, World

TRAFFIC_ROWS = 1000  # requests per monitoring window (well above HasEnoughData's 100), unseen rows of the data
SHIFT = "numeric"  # pipeline_code.shifts: the first numeric feature + 10 (Adult: age + 10 years), labels kept
# The phases of the loop, in order: `run(..., until=...)` stops after one (a cheaper loop for a second data set).
PHASES = ("new-data", "promotion", "monitoring", "drift-retrain", "fresh-and-cached", "code-change")


class State:
    """What earlier steps found, for the later ones."""

    first_run: Any = None
    package_arn: str = ""
    deployed: Any = None
    report_uri: str = ""
    drift_events: list[dict[str, Any]]
    alarm_event: dict[str, Any] | None = None
    alarm_result: dict[str, Any] | None = None
    drift_arn: str = ""
    fresh_arn: str = ""
    fresh_package: str = ""
    approval_event: dict[str, Any] | None = None
    promoted: bool = False

    def __init__(self) -> None:
        self.drift_events = []


def run(world: World, timeline: Timeline, assembly: Path, until: str = PHASES[-1]) -> None:
    """Every phase up to and including `until`."""
    state = State()
    phases = {
        "new-data": lambda: _new_data_to_package(world, timeline, state),
        "promotion": lambda: _approval_to_endpoint(world, timeline, state, assembly),
        "monitoring": lambda: _monitoring(world, timeline, state),
        "drift-retrain": lambda: _drift_retrain(world, timeline, state),
        "fresh-and-cached": lambda: _fresh_and_cached(world, timeline, state),
        "code-change": lambda: _code_change(world, timeline),
    }
    for phase in PHASES[: PHASES.index(until) + 1]:
        phases[phase]()


# ---------------------------------------------------------------- 1-3: new data -> a registered package


def _new_data_to_package(world: World, timeline: Timeline, state: State) -> None:
    c = world.clients
    with timeline.step("data-landed") as evidence:
        uri = world.land(world.data_files[0])
        bucket, key = capture.split_s3(uri)
        size = c["s3"].head_object(Bucket=bucket, Key=key)["ContentLength"]
        evidence.append(f"{uri} ({size} bytes)")
    with timeline.step("new-data-retrain-started") as evidence:
        results = world.deliver(NEW_DATA)
        arn = world.started(results, "new-data")
        evidence.append(f"{arn} (Trigger=new-data, from S3's Object Created event via the synthesized rule)")
    with timeline.step("training-succeeded") as evidence:
        state.first_run = _succeeded(world, arn)
        evidence.append(f"{arn}: {_step_summary(state.first_run)}")
    with timeline.step("package-registered") as evidence:
        if state.first_run is None:
            raise StepError("no successful training run")
        state.package_arn = _registered(world, state.first_run, arn)
        evidence.append(f"{state.package_arn} (PendingManualApproval, lineage metadata complete)")


def _succeeded(world: World, arn: str) -> Any:
    result = world.run(arn)
    # the profile of the run, beside the timeline (wall time per step; a cache hit takes next to none)
    print("         " + ", ".join(f"{s.name} {s.seconds:.1f}s" for s in result.steps), flush=True)
    if result.status != "Succeeded":
        raise StepError(f"{arn} {result.status}: {result.failure_reason}")
    return result


def _registered(world: World, result: Any, arn: str) -> str:
    """The run's package on moto: PendingManualApproval, every lineage key the definition declares filled in."""
    if not result.model_package_arn:
        raise StepError(f"{arn} registered no model package")
    package = world.clients["sagemaker"].describe_model_package(ModelPackageName=result.model_package_arn)
    if package["ModelApprovalStatus"] != "PendingManualApproval":
        raise StepError(f"{result.model_package_arn} is {package['ModelApprovalStatus']}")
    metadata = package.get("CustomerMetadataProperties", {})
    declared = _declared_metadata(world)
    empty = sorted(k for k in declared if not str(metadata.get(k, "")).strip())
    if empty:
        raise StepError(f"{result.model_package_arn}: lineage metadata missing or empty: {empty}")
    if metadata.get("pipeline_execution_arn") != arn:
        raise StepError(f"package lineage names execution {metadata.get('pipeline_execution_arn')}, not {arn}")
    return str(result.model_package_arn)


def _declared_metadata(world: World) -> set[str]:
    definition = json.loads(
        world.clients["sagemaker"].describe_pipeline(PipelineName=world.pipeline("training"))["PipelineDefinition"]
    )
    found: set[str] = set()

    def walk(steps: list[Any]) -> None:
        for step in steps:
            if step["Type"] == "Condition":
                walk(step["Arguments"].get("IfSteps", []))
                walk(step["Arguments"].get("ElseSteps", []))
            elif step["Type"] == "RegisterModel":
                found.update(step["Arguments"].get("CustomerMetadataProperties", {}))

    walk(definition["Steps"])
    return found


def _step_summary(result: Any) -> str:
    return ", ".join(f"{s.name}{' (cache)' if s.cache_hit else ''}" for s in result.steps if s.status == "Succeeded")


# ---------------------------------------------------------------- 4-5: approval -> promotion -> endpoint


def _approval_to_endpoint(world: World, timeline: Timeline, state: State, assembly: Path) -> None:
    c = world.clients
    with timeline.step("package-approved") as evidence:
        if not state.package_arn:
            raise StepError("no registered package to approve")
        c["sagemaker"].update_model_package(
            ModelPackageArn=state.package_arn,
            ModelApprovalStatus="Approved",
            ApprovalDescription="approved by the loop",
        )
        package = c["sagemaker"].describe_model_package(ModelPackageName=state.package_arn)
        assert world.routes is not None
        world.routes.put(*_with_type(model_package_state_change(package), MODEL_PACKAGE_STATE_CHANGE))
        delivered = world.routes.received(PROMOTION)
        if len(delivered) != 1 or delivered[0]["detail"].get("ModelPackageArn") != state.package_arn:
            raise StepError(f"the promotion rule delivered {len(delivered)} event(s) for the approval")
        state.approval_event = delivered[0]
        evidence.append(f"{state.package_arn} Approved; the state-change event matched the promotion rule")
    with timeline.step("promotion-succeeded") as evidence:
        if state.approval_event is None:
            raise StepError("no approval event was delivered to the promotion")
        promotion = _promotion(world, assembly)
        set_model_behaviour(capture.ModelEndpoint(c["s3"]))  # the endpoint scores with the model it serves
        # What the rule's target gives the state machine: the event as delivered (the target has no Input,
        # InputPath or InputTransformer; checked, since the twin would not apply one).
        execution = c["stepfunctions"].start_execution(
            stateMachineArn=promotion.state_machine_arn,
            name=f"approval-{state.approval_event['id']}",
            input=json.dumps(_target_input(world, promotion.state_machine_arn, state.approval_event)),
        )["executionArn"]
        described = promotion.wait(execution, timeout=120)
        if described.get("status") != "SUCCEEDED":
            raise StepError(f"{execution} {described.get('status')}: {described.get('error')} {described.get('cause')}")
        state.promoted = True
        evidence.append(str(execution))
    with timeline.step("endpoint-in-service") as evidence:
        if not state.promoted:
            raise StepError("no successful promotion")
        endpoint = world.resources.endpoint
        status = c["sagemaker"].describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        parameter = world.resources.current_model_parameter
        current = c["ssm"].get_parameter(Name=parameter)["Parameter"]["Value"]
        if status != "InService" or current != state.package_arn:
            raise StepError(f"endpoint {endpoint} {status}; {parameter} = {current}")
        evidence.append(f"{endpoint} InService; {parameter} = {current}")


def _with_type(
    event: tuple[str, dict[str, Any], list[str]], detail_type: str
) -> tuple[str, str, dict[str, Any], list[str]]:
    source, detail, resources = event
    return source, detail_type, detail, resources


def _promotion(world: World, assembly: Path) -> Any:
    from twin.promotion import LocalPromotion

    # The stage's tables exist already (the twin created them from the templates): the promotion uses those.
    tables = {f"Ref:{t.logical_id}": world.stage.physical_name(t) for t in world.stage.of_type("AWS::DynamoDB::Table")}
    return LocalPromotion.from_cloud_assembly(
        assembly, world.environment, clients=world.clients, names=tables, poll_seconds=0
    )


def _target_input(world: World, machine_arn: str, event: dict[str, Any]) -> dict[str, Any]:
    """The state machine's input for `event`, as the synthesized rule's target passes it."""
    targets = [
        target
        for rule in world.stage.of_type("AWS::Events::Rule")
        for target in rule.properties.get("Targets", [])
        if world.stage.resolve(target["Arn"]).rsplit(":", 1)[-1] == machine_arn.rsplit(":", 1)[-1]
    ]
    if len(targets) != 1:
        raise StepError(f"{len(targets)} rule targets start the promotion state machine")
    transforms = sorted(set(targets[0]) & {"Input", "InputPath", "InputTransformer"})
    if transforms:
        raise StepError(
            f"the promotion rule's target transforms its input ({transforms}): the twin passes events as is"
        )
    return event


# ---------------------------------------------------------------- 6-7: monitoring, clean then shifted


def _monitoring(world: World, timeline: Timeline, state: State) -> None:
    with timeline.step("monitoring-clean") as evidence:
        result, written = _monitor(world, state, shift=None)
        _archive_window(world, written)  # whatever this window found, the next one holds only its own traffic
        violations = _metric(world, "DriftViolations")
        if violations != 0 or world.routes is None or world.routes.received(DRIFT):
            raise StepError(f"DriftViolations={violations} on unshifted traffic")
        evidence.append(
            f"{result.execution_arn}: {written.rows} rows in {written.records} captured raw requests (CSV and JSON), "
            "DriftViolations=0, no event"
        )
    with timeline.step("monitoring-violations") as evidence:
        result, written = _monitor(world, state, shift=SHIFT)
        violations = _metric(world, "DriftViolations")
        assert world.routes is not None
        state.drift_events = world.routes.received(DRIFT)
        reports = [e for e in state.drift_events if e["detail-type"] == VIOLATIONS_REPORT]
        if not violations or len(reports) != 1:
            raise StepError(f"DriftViolations={violations}, {len(reports)} violations event(s) for shifted traffic")
        state.report_uri = reports[0]["detail"]["reportUri"]
        bucket, prefix = capture.split_s3(state.report_uri.rstrip("/") + "/")
        reported = world.keys(bucket, prefix)
        if f"{prefix}violations.json" not in reported:
            raise StepError(f"no violations.json under the reported {state.report_uri}: {reported}")
        found = [
            v["check"] + (f"({v['feature']})" if v.get("feature") else "") for v in reports[0]["detail"]["violations"]
        ]
        evidence.append(f"{state.report_uri}: {violations:g} violation(s) {found}; event delivered to the drift rule")


def _monitor(world: World, state: State, shift: str | None) -> tuple[Any, capture.Written]:
    """Traffic for one window (raw requests served by the deployed model's handlers), then a monitoring run."""
    from pipeline_code.monitoring_inputs import describe_deployed, model_encoder

    if not state.package_arn:
        raise StepError("no deployed package to monitor")
    c = world.clients
    state.deployed = describe_deployed(c["sagemaker"], state.package_arn)
    # Each window its own rows of the first data file, past the lines the loop lands for training.
    skip = (world.sample_rows or 0) + (TRAFFIC_ROWS if shift else 0)
    bucket, key = capture.split_s3(state.deployed.model_uri)
    archive = c["s3"].get_object(Bucket=bucket, Key=key)["Body"].read()
    encoder = model_encoder(archive, key)
    rows = capture.unseen_rows(world.data_files[0], skip=skip, count=TRAFFIC_ROWS, encoder=encoder)
    rows = capture.shifted(rows, shift)
    # sent as clients send them: raw records, CSV and JSON, through InvokeEndpoint
    exchanges = capture.send(c["sagemaker-runtime"], world.resources.endpoint, rows, encoder.manifest)
    defaults = _monitoring_defaults(world)
    written = capture.write_traffic(
        c["s3"],
        exchanges,
        capture_uri=defaults["CaptureUri"],
        ground_truth_uri=defaults["GroundTruthUri"],
        at=datetime.now(UTC) - timedelta(hours=2),
    )
    # dev's schedule monitors batch predictions (its serverless endpoint captures nothing); the loop shows the
    # capture path, which staging and prod use, by starting the run with Source=capture.
    arn = c["sagemaker"].start_pipeline_execution(
        PipelineName=world.pipeline("monitoring"),
        PipelineParameters=[{"Name": "Source", "Value": "capture"}],
        PipelineExecutionDisplayName=f"loop-{shift or 'clean'}",
    )["PipelineExecutionArn"]
    result = _succeeded(world, arn)
    if not any(s.name == "CheckDrift" and s.status == "Succeeded" for s in result.steps):
        raise StepError(f"{arn}: CheckDrift did not run ({_step_summary(result)})")
    return result, written


def _monitoring_defaults(world: World) -> dict[str, str]:
    definition = json.loads(
        world.clients["sagemaker"].describe_pipeline(PipelineName=world.pipeline("monitoring"))["PipelineDefinition"]
    )
    return {p["Name"]: str(p.get("DefaultValue", "")) for p in definition["Parameters"]}


def _metric(world: World, name: str) -> float | None:
    """The latest value of a monitoring metric of this environment on moto's CloudWatch (None: never put)."""
    now = datetime.now(UTC)
    points = world.clients["cloudwatch"].get_metric_statistics(
        Namespace=world.resources.metric_namespace,
        MetricName=name,
        Dimensions=[{"Name": world.resources.metric_dimension, "Value": world.resources.prefix}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return max(points, key=lambda p: p["Timestamp"])["Maximum"] if points else None


def _archive_window(world: World, written: capture.Written) -> None:
    """The loop compresses days into seconds: the first window's traffic leaves the capture and ground-truth
    prefixes (to `twin-archive/`), so the next run's 24-hour window holds only the next day's requests."""
    s3, bucket = world.clients["s3"], world.stage.bucket("artifacts")
    for key in written.capture_keys + written.ground_truth_keys:
        s3.copy_object(Bucket=bucket, Key=f"twin-archive/{key}", CopySource={"Bucket": bucket, "Key": key})
        s3.delete_object(Bucket=bucket, Key=key)


# ---------------------------------------------------------------- 8-9: drift -> retrain on the recent window


def _drift_retrain(world: World, timeline: Timeline, state: State) -> None:
    with timeline.step("drift-retrain-started") as evidence:
        # In delivery order: the drift check's violations event (recorded by the trigger: it names the report),
        # then the alarm on the metrics the check put, whose transition into ALARM starts the run.
        reports = [e for e in state.drift_events if e["detail-type"] == VIOLATIONS_REPORT]
        if not reports:
            raise StepError("no violations event was delivered")
        recorded = [r for _, r in world.deliver(DRIFT, reports)]
        if [r.get("reason") for r in recorded] != ["report-recorded"]:
            raise StepError(f"the violations event gave {recorded}")
        state.alarm_event = _alarm_event(world)
        world.clock.advance(25)  # a day after the first run: past the retraining cooldown
        before = set(world.executions())
        results = world.deliver(DRIFT, [state.alarm_event])
        state.drift_arn = world.started(results, "drift")
        state.alarm_result = results[0][1]
        detail = world.parameters_of(state.drift_arn).get("TriggerDetail", "")
        if detail != state.report_uri:
            raise StepError(f"TriggerDetail {detail!r} is not the report {state.report_uri}")
        if set(world.executions()) - before != {state.drift_arn}:
            raise StepError(f"the alarm started {sorted(set(world.executions()) - before)}")
        evidence.append(f"{state.drift_arn} (Trigger=drift, TriggerDetail={detail}) from {state.alarm_event['id']}")
    with timeline.step("duplicate-alarm-skipped") as evidence:
        if state.alarm_event is None or not state.drift_arn:
            raise StepError("no alarm event started a run")
        listed = world.executions()
        function = world.functions[DRIFT]
        seen = len(function.log_lines())
        (result,) = [r for _, r in world.deliver(DRIFT, [state.alarm_event])]
        if world.executions() != listed:
            raise StepError(f"the redelivered alarm event started {sorted(set(world.executions()) - set(listed))}")
        # The handler's idempotency, not the cooldown: the decision recorded for the first delivery comes back
        # (the same execution), and the function logs the delivery as a duplicate of the report's episode.
        duplicates = [
            line
            for line in function.log_lines()[seen:]
            if str(line.get("message", "")).startswith("duplicate delivery")
            and line.get("idempotency_key") == {"report": state.report_uri}
        ]
        if result != state.alarm_result or len(duplicates) != 1:
            raise StepError(f"the redelivered alarm event gave {result}, {len(duplicates)} duplicate log line(s)")
        evidence.append(
            f"{state.alarm_event['id']} delivered again: recorded decision returned ({result['execution_arn']}), "
            f"logged as a duplicate of episode {{report: {state.report_uri}}}"
        )
    with timeline.step("drift-retrain-learns-recent-data") as evidence:
        if not state.drift_arn:
            raise StepError("no drift-triggered execution")
        feedback = world.keys(world.stage.bucket("raw"), "feedback/")
        if not feedback:
            raise StepError("the monitoring run wrote no labelled window under s3://<raw>/feedback/")
        result = _succeeded(world, state.drift_arn)
        inputs = _lineage_inputs(world, _registered(world, result, state.drift_arn), state.drift_arn)
        named = [k for k in inputs if k.startswith("feedback/")]
        if not named or not set(named) <= set(feedback):
            raise StepError(f"{state.drift_arn}: lineage inputs {inputs} name no feedback/ object ({feedback})")
        # the rows of the first run are in the store under the same ids: only the labelled window is written
        ingested = _ingestion(world, result)
        if not ingested["written"] or not ingested["already_present"]:
            raise StepError(f"{state.drift_arn}: IngestFeatures should write the new rows only: {ingested}")
        evidence.append(
            f"{state.drift_arn}: lineage names {named}; IngestFeatures wrote {ingested['written']} of "
            f"{ingested['records']} records, {ingested['already_present']} already in the store"
        )


def _ingestion(world: World, result: Any) -> dict[str, Any]:
    """The IngestFeatures step's summary (`feature_records.json`) from its output in the artifacts zone."""
    (output,) = result.step("IngestFeatures").outputs["ProcessingOutputConfig"]["Outputs"]
    bucket, key = capture.split_s3(output["S3Output"]["S3Uri"])
    return dict(world.read_json(bucket, f"{key}/feature_records.json"))


def _alarm_event(world: World) -> dict[str, Any]:
    """The drift alarm of the stage, evaluated on the metric moto holds, in ALARM; its state-change event."""
    c = world.clients
    alarm = world.stage.named("AWS::CloudWatch::Alarm", f"{world.resources.alarm_prefix}violations")
    props = world.stage.resolve(alarm.properties)
    keep = ("AlarmName", "ComparisonOperator", "EvaluationPeriods", "MetricName", "Namespace", "Period",
            "Statistic", "Threshold", "TreatMissingData", "AlarmDescription", "Dimensions")  # fmt: skip
    c["cloudwatch"].put_metric_alarm(**{k: props[k] for k in keep if k in props})
    value = _metric(world, props["MetricName"])
    if value is None or not _breaches(value, props["ComparisonOperator"], float(props["Threshold"])):
        raise StepError(f"{props['AlarmName']}: {props['MetricName']}={value} does not breach {props['Threshold']}")
    c["cloudwatch"].set_alarm_state(
        AlarmName=props["AlarmName"],
        StateValue="ALARM",
        StateReason=f"Threshold Crossed: 1 datapoint [{value:g}] was >= the threshold ({props['Threshold']}).",
    )
    (described,) = c["cloudwatch"].describe_alarms(AlarmNames=[props["AlarmName"]])["MetricAlarms"]
    assert world.routes is not None
    world.routes.put(*_with_type(alarm_state_change(described, previous="OK"), ALARM_STATE_CHANGE))
    delivered = [e for e in world.routes.received(DRIFT) if e["detail-type"] == ALARM_STATE_CHANGE]
    if len(delivered) != 1:
        raise StepError(f"the drift alarm rule delivered {len(delivered)} alarm event(s)")
    return delivered[0]


def _breaches(value: float, operator: str, threshold: float) -> bool:
    return {
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "GreaterThanThreshold": value > threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }[operator]


def _lineage_inputs(world: World, package_arn: str, execution_arn: str) -> list[str]:
    """The raw objects the package was trained on: the keys of the lineage document its metadata names
    (Preprocess's lineage.json), which must name the data snapshot the execution was started with."""
    metadata = world.clients["sagemaker"].describe_model_package(ModelPackageName=package_arn)[
        "CustomerMetadataProperties"
    ]
    bucket, key = capture.split_s3(metadata["lineage_uri"])
    lineage = world.read_json(bucket, key)
    started_with = world.parameters_of(execution_arn).get("InputManifestUri")
    if lineage.get("manifest_uri") != started_with or metadata.get("input_manifest_uri") != started_with:
        raise StepError(f"{package_arn}: lineage names snapshot {lineage.get('manifest_uri')}, not {started_with}")
    return [str(item["key"]) for item in lineage["input"]["files"]]


# ---------------------------------------------------------------- 10-11: fresh data, then the same data


def _fresh_and_cached(world: World, timeline: Timeline, state: State) -> None:
    with timeline.step("new-data-retrain-fresh-inputs") as evidence:
        world.clock.advance(25)
        uri = world.land(world.data_files[-1])
        landed = capture.split_s3(uri)[1]
        state.fresh_arn = world.started(world.deliver(NEW_DATA), "new-data")
        result = _succeeded(world, state.fresh_arn)
        if result.step("Preprocess").cache_hit:
            raise StepError(f"{state.fresh_arn}: Preprocess was served from the cache after {uri} landed")
        state.fresh_package = _registered(world, result, state.fresh_arn)
        inputs = _lineage_inputs(world, state.fresh_package, state.fresh_arn)
        if landed not in inputs:
            raise StepError(f"{state.fresh_arn}: lineage inputs {inputs} do not name {landed}")
        if state.fresh_package == state.package_arn:
            raise StepError("no new package version was registered")
        evidence.append(f"{state.fresh_arn}: Preprocess ran on {uri}; new package {state.fresh_package}")
    with timeline.step("same-data-cache-hit") as evidence:
        if not state.fresh_arn:
            raise StepError("no fresh run to repeat")
        parameters = world.parameters_of(state.fresh_arn)
        arn = world.clients["sagemaker"].start_pipeline_execution(
            PipelineName=world.pipeline("training"),
            PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
            PipelineExecutionDisplayName="loop-same-data",
        )["PipelineExecutionArn"]
        result = _succeeded(world, arn)
        hits = [s.name for s in result.steps if s.cache_hit]
        for name in ("Preprocess", "IngestFeatures"):  # the split and its feature records are already there
            if name not in hits:
                raise StepError(f"{arn}: unchanged data, but {name} ran again (cache hits: {hits})")
        evidence.append(f"{arn}: served from the cache: {hits}")


# ---------------------------------------------------------------- 12: a code change


def _code_change(world: World, timeline: Timeline) -> None:
    from pipeline_definition.fingerprint import code_hash
    from release import code_change_trigger

    with timeline.step("code-change-retrain-started") as evidence:
        copy = world.workdir / "code-change" / "pipeline_code"
        shutil.copytree(Path(code_change_trigger.__file__).resolve().parent.parent / "pipeline_code", copy,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        environ = {
            "TRAINING_PIPELINE_NAME": world.pipeline("training"),
            "CODE_HASH_PARAMETER": world.resources.code_hash_parameter,
            "TARGET_REGION": world.stage.region,
            "CODE_DIR": str(copy),
            "CODEBUILD_RESOLVED_SOURCE_VERSION": "0" * 40,
            # The data snapshot's settings: set by CDK from the same contract as the triggers' (the release
            # stage is not synthesized here), so the new-data function's deployed values.
            **{
                k: world.functions[NEW_DATA].environment[k]
                for k in ("RAW_BUCKET_NAME", "SNAPSHOT_PREFIXES", "SNAPSHOTS_URI")
            },
            **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
        }
        if code_change_trigger.main(environ=environ) != 0:  # the release of today's code: records its hash
            raise StepError("the code-change trigger failed on the unchanged copy")
        hashes = (code_hash(copy), code_change_trigger.content_hash(copy))
        with (copy / "train.py").open("a") as source:
            source.write("\n# a change to the training code, made by the loop in a copy\n")
        changed = (code_hash(copy), code_change_trigger.content_hash(copy))
        if any(a == b for a, b in zip(hashes, changed, strict=True)):
            raise StepError(f"editing train.py left a code hash unchanged: {hashes} -> {changed}")
        before = world.executions()
        environ["CODEBUILD_RESOLVED_SOURCE_VERSION"] = "1" * 40
        if code_change_trigger.main(environ=environ) != 0:
            raise StepError("the code-change trigger failed on the changed copy")
        new = [a for a in world.executions() if a not in before]
        if len(new) != 1 or world.parameters_of(new[0]).get("Trigger") != "code-change":
            raise StepError(f"the changed code started {new}")
        evidence.append(f"{new[0]} (Trigger=code-change; code hash {changed[0][:12]})")
