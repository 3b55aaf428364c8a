"""Small patches that let moto 5.2.5 execute the promotion state machine (JSONata, SageMaker endpoints, Lambda).

moto runs Step Functions executions with the ASL interpreter it took from LocalStack when its config says
`stepfunctions.execute_state_machine` (see `local_step_functions_config`). What it lacks, supplied here:

- JSONata evaluation: moto's evaluator is a JVM bridge that is never initialised (`'NoneType' object is not
  callable`; getmoto/moto#10105, fix proposed in getmoto/moto#10112). `jsonata-python` evaluates instead.
- String variables are pasted into expressions unescaped (`$x:="a "quoted" b";`), which breaks on any quote
  or backslash (an error message as a reason): they are JSON-encoded instead (same issue).
- `$uuid()` returns the text "Function $uuid is currently not supported" (moto's intrinsic declarations):
  it returns a real UUID, as Step Functions' does.
- SageMaker `UpdateEndpoint` is not implemented (moto answers 500): added, with the status rules AWS documents
  (only an InService endpoint can be updated; DeleteEndpoint is the only operation on a Failed one; a failed
  update rolls back to the old config and ends InService with a FailureReason). `CreateEndpoint` on an existing
  name fails, as on AWS (moto overwrites it). Status transitions are scripted per endpoint (`EndpointScript`),
  one status per DescribeEndpoint, so tests can simulate Creating/Updating/Failed without waiting.
- The aws-sdk service name `applicationautoscaling` (Step Functions') is not mapped to boto3's
  `application-autoscaling`.
- SendTaskFailure drops its `cause` (moto's response handler passes only `error`), so a person's reason for
  refusing would read `null`: passed on.
- Application Auto Scaling registers a scalable target of a SageMaker variant whatever the endpoint's status;
  AWS refuses it while the endpoint is being updated (ValidationException): refused here too.
- The interpreter makes a new boto3 client for every aws-sdk task (`boto_client_for`): clients are cached per
  region, service and moto port (tens of ms each, for every task of every execution). Every request those clients
  send is checked against botocore's service model (`twin.api_contract`: patterns, lengths, enums, which moto
  does not check) and fails its task as AWS's ValidationException would; `validate_requests` changes the check.
- Lambda without Docker always answers its own request body: a function registered with `register_lambda` runs
  a Python callable in-process instead (the real handler's logic against moto).
- SageMaker Runtime answers static text, cached by request: `set_model_behaviour` decides what an endpoint
  answers (a `ModelCall`: the ModelDataUrl and Environment of the model behind its live config, the body, its
  ContentType and Accept), so a bad model really fails the smoke test; an answer with a 4xx/5xx status is the
  ModelError (HTTP 424) InvokeEndpoint raises on AWS, with the container's status and message.

- Several accounts (a promotion across accounts): the interpreter's clients all send moto's default account; each
  aws-sdk, Lambda or SNS task here sends the account of its state machine (`x-moto-account-id`), and
  DescribeModelPackage of another account's package ARN reads that account's registry (the cross-account read its
  resource policy grants; moto evaluates no policy). `account_clients` makes a test's clients of one account.
- UpdateModelPackage replaces CustomerMetadataProperties whole; AWS adds and updates the keys given: merged.
- Batch transform jobs complete at once without writing anything: the champion/challenger gate's jobs write
  `<input file>.out` under their S3OutputPath, the model behaviour's answer to each mini-batch of lines with the
  job's DataProcessing applied (`pipeline_definition.local_runner.transform.transform_lines`, the local runner's
  emulation: InputFilter, JoinSource, OutputFilter); an error answer fails the job, with its message.
- CreateStateMachine parses the definition to validate it and drops the result; every execution then parses it
  again (ANTLR: about a fifth of a promotion test's time). Each definition is parsed once per process and every
  execution gets a deep copy of that program, so no two executions share a component, as in moto.
- JSONata expressions are evaluated with the variables pasted in as literals, so every evaluation parses a new
  text; the variables are bound as values instead, and each expression text is parsed once (`_patch_jsonata`).
- KMS key ids are random, and a stand-in key's ARN is written into the definition, so no two tests created the
  same definition text: a key the twin creates as a stand-in for a stack's key (`STAND_IN_KEY`) gets an id derived
  from its account, region and output instead, and the parse above serves every test.
- GetExecutionHistory goes through moto's generic serializer, which probes each event's ~60 optional members
  under several spellings: 60-90 ms for one promotion's history, read after every execution. moto's events are
  already the API's `HistoryEvent` dicts, so they are written as the awsJson1_0 protocol writes them (JSON, no
  null members, timestamps as epoch seconds); tests/twin/test_promotion_execution.py checks botocore reads the same.
- UpdateEndpoint ignores DeploymentConfig: a blue/green update now watches its AutoRollbackConfiguration alarms
  while it is Updating; one in ALARM (set with moto's SetAlarmState) rolls it back, as SageMaker does: InService
  on the old config, with a FailureReason naming the alarm.

Differences from AWS that remain (none of them makes a Catch match that would not on AWS, because the promotion
catches `States.ALL` and `States.Timeout` only): service error names (`sagemaker.sagemakerException` where AWS
says `SageMaker.AmazonSageMakerException`), deletions are immediate after one `Deleting` describe, and no IAM is
evaluated.
"""

from __future__ import annotations

import calendar
import copy
import json
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.utils import parse_to_aware_datetime

from twin.api_contract import validate_request

_lock = threading.Lock()
_applied = False

LambdaHandler = Callable[[dict[str, Any], dict[str, str]], Any]  # (event, function environment) -> result


@dataclass(frozen=True)
class ModelCall:
    """One request to a model: its container's ModelDataUrl and Environment, the body, ContentType and Accept."""

    model_data_url: str
    environment: dict[str, str]
    body: str
    content_type: str = "text/csv"
    accept: str = "text/csv"


@dataclass(frozen=True)
class ModelAnswer:
    """What the model's container answers: the body, its content type, and the HTTP status."""

    body: str
    content_type: str = "text/csv"
    status: int = 200


ModelBehaviour = Callable[[ModelCall], ModelAnswer]


def local_step_functions_config() -> dict[str, Any]:
    """moto config (for `mock_aws(config=...)` or POST /moto-api/config) that executes state machines."""
    return {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


# ----------------------------------------------------------------------------------------------- endpoints


@dataclass
class EndpointScript:
    """What DescribeEndpoint shows after the next create or update of one endpoint: `statuses`, one per describe,
    the last one staying. Ending in "InService" means the new config is live; ending in "Failed" means: a create
    failed (the endpoint stays Failed), an update failed (SageMaker rolls back: InService on the old config)."""

    statuses: Sequence[str] = ("Updating", "InService")
    failure_reason: str = ""


@dataclass
class _EndpointState:
    pending: list[str] = field(default_factory=list)
    final: str = "InService"
    failure_reason: str = ""
    new_config: str | None = None  # the config an update switches to once it succeeds
    old_config: str | None = None
    rollback_alarms: list[str] = field(default_factory=list)  # a guarded update's AutoRollbackConfiguration


_scripts: dict[str, EndpointScript] = {}  # next change of an endpoint, by name
_states: dict[str, _EndpointState] = {}
_lambdas: dict[str, LambdaHandler] = {}
_model_behaviour: list[ModelBehaviour] = []


def script_next_change(endpoint_name: str, script: EndpointScript) -> None:
    """The statuses the next CreateEndpoint/UpdateEndpoint of `endpoint_name` goes through."""
    _scripts[endpoint_name] = script


def set_endpoint_status(endpoint_name: str, *statuses: str, failure_reason: str = "") -> None:
    """From now on DescribeEndpoint shows `statuses`, one per call, the last staying (e.g. another promotion's
    update in flight: "Updating", "Updating", "InService"). The endpoint must exist."""
    state = _states.setdefault(endpoint_name, _EndpointState())
    state.pending, state.final = list(statuses[:-1]), statuses[-1]
    state.failure_reason, state.new_config = failure_reason, None


def register_lambda(function_name: str, handler: LambdaHandler) -> None:
    """Invocations of `function_name` (name or ARN) run `handler(event, environment)` in-process. An ARN binds the
    handler to that account's function only (the three environments' functions have the same names)."""
    if function_name.startswith("arn:"):
        parts = function_name.split(":")
        _lambdas[f"{parts[4]}:{parts[6]}"] = handler
        function_name = parts[6]
    _lambdas[function_name] = handler


def set_model_behaviour(behaviour: ModelBehaviour) -> None:
    _model_behaviour[:] = [behaviour]


def reset_twin_state() -> None:
    """Forget scripts, endpoint states, Lambda handlers and model behaviour (moto's own reset does not)."""
    _scripts.clear()
    _states.clear()
    _failures.clear()
    _lambdas.clear()
    _model_behaviour.clear()


def _patch_sagemaker() -> None:
    from moto.sagemaker import models, responses
    from moto.sagemaker.exceptions import ValidationError

    backend_cls = models.SageMakerModelBackend
    original_create = backend_cls.create_endpoint
    original_delete = backend_cls.delete_endpoint

    def _validation(message: str) -> ValidationError:
        return ValidationError(message=message)

    def _start_change(name: str, *, old: str | None, new: str, creating: bool) -> None:
        script = _scripts.pop(name, EndpointScript(("Creating" if creating else "Updating", "InService")))
        statuses = list(script.statuses)
        _states[name] = _EndpointState(
            pending=statuses[:-1], final=statuses[-1], failure_reason=script.failure_reason, new_config=new,
            old_config=old,
        )  # fmt: skip

    def create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        if endpoint_name in self.endpoints:
            arn = self.endpoints[endpoint_name].arn
            raise _validation(f'Cannot create already existing endpoint "{arn}".')
        endpoint = original_create(self, endpoint_name, endpoint_config_name, tags)
        _start_change(endpoint_name, old=None, new=endpoint_config_name, creating=True)
        return endpoint

    def update_endpoint(
        self: Any, endpoint_name: str, endpoint_config_name: str, deployment_config: dict[str, Any] | None = None
    ) -> str:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            raise _validation(f"Could not find endpoint '{endpoint_name}'.")
        self.describe_endpoint_config(endpoint_config_name)  # raises if it does not exist
        status = _current_status(endpoint)
        if status == "Failed":
            raise _validation(f'Cannot update endpoint "{endpoint.arn}" in Failed status; delete it first.')
        if status != "InService":
            raise _validation(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        _start_change(endpoint_name, old=endpoint.endpoint_config_name, new=endpoint_config_name, creating=False)
        alarms = ((deployment_config or {}).get("AutoRollbackConfiguration") or {}).get("Alarms") or []
        _states[endpoint_name].rollback_alarms = [str(a["AlarmName"]) for a in alarms]
        endpoint.endpoint_status = _states[endpoint_name].pending[0] if _states[endpoint_name].pending else "Updating"
        return str(endpoint.arn)

    def delete_endpoint(self: Any, endpoint_name: str) -> None:
        original_delete(self, endpoint_name)  # raises if missing
        _states.pop(endpoint_name, None)

    def _current_status(endpoint: Any) -> str:
        state = _states.get(endpoint.endpoint_name)
        return str(state.pending[0] if state and state.pending else (state.final if state else "InService"))

    def describe_endpoint(self: Any, endpoint_name: str) -> dict[str, Any]:
        endpoint = self.endpoints.get(endpoint_name)
        state = _states.get(endpoint_name)
        if endpoint is not None and state is not None:
            alarm = _alarm_in_alarm(self.account_id, self.region_name, state) if state.new_config else None
            if alarm and state.old_config and (state.pending or state.final == "Updating"):
                # SageMaker's auto-rollback: the update ends, the old fleet keeps (or gets back) all traffic
                state.pending, state.final = [], "Failed"
                state.failure_reason = f"Deployment rolled back: CloudWatch alarm {alarm} went to ALARM"
            with _lock:
                status = state.pending.pop(0) if state.pending else state.final
            endpoint.failure_reason = None
            if status == "InService" and not state.pending and state.new_config:
                endpoint.endpoint_config_name = state.new_config
            elif status == "Failed" and not state.pending and state.old_config:
                # A failed update: SageMaker goes back to the old config by itself and is InService again.
                status, endpoint.endpoint_config_name = "InService", state.old_config
                endpoint.failure_reason = state.failure_reason or "update failed"
                state.final, state.new_config = "InService", None  # the rollback is over: the old fleet serves
            elif status == "Failed":
                endpoint.failure_reason = state.failure_reason or "creation failed"
            endpoint.endpoint_status = status
        return original_describe(self, endpoint_name)

    original_describe = backend_cls.describe_endpoint
    backend_cls.create_endpoint = create_endpoint  # type: ignore[method-assign]  # a documented moto patch
    backend_cls.update_endpoint = update_endpoint  # type: ignore[attr-defined]  # added: moto has none
    backend_cls.delete_endpoint = delete_endpoint  # type: ignore[method-assign]  # a documented moto patch
    backend_cls.describe_endpoint = describe_endpoint  # type: ignore[method-assign]  # a documented moto patch

    def update_endpoint_response(self: Any) -> Any:
        from moto.core.responses import ActionResult

        arn = self.sagemaker_backend.update_endpoint(
            self._get_param("EndpointName"), self._get_param("EndpointConfigName"), self._get_param("DeploymentConfig")
        )
        return ActionResult({"EndpointArn": arn})

    responses.SageMakerResponse.update_endpoint = update_endpoint_response  # type: ignore[attr-defined]  # added: moto has none

    original_describe_package = backend_cls.describe_model_package

    def describe_model_package(self: Any, model_package_name: str) -> Any:
        # Another account's package (its ARN): read from that account's registry, as its resource policy allows.
        parts = model_package_name.split(":")
        if model_package_name.startswith("arn:") and len(parts) > 4 and parts[4] != self.account_id:
            return original_describe_package(models.sagemaker_backends[parts[4]][parts[3]], model_package_name)
        return original_describe_package(self, model_package_name)

    backend_cls.describe_model_package = describe_model_package  # type: ignore[method-assign]  # a documented moto patch

    original_update_package = backend_cls.update_model_package

    def update_model_package(self: Any, model_package_arn: str, *args: Any, **kwargs: Any) -> Any:
        # AWS adds and updates the given metadata keys; moto replaces the whole map.
        package = original_describe_package(self, model_package_arn)
        given = kwargs.get("customer_metadata_properties") or {}
        kwargs["customer_metadata_properties"] = {**(package.customer_metadata_properties or {}), **given} or None
        return original_update_package(self, model_package_arn, *args, **kwargs)

    backend_cls.update_model_package = update_model_package  # type: ignore[method-assign]  # a documented moto patch

    original_transform = backend_cls.create_transform_job

    def create_transform_job(self: Any, transform_job_name: str, model_name: str, *args: Any, **kwargs: Any) -> Any:
        job = original_transform(self, transform_job_name, model_name, *args, **kwargs)
        if _model_behaviour:
            _write_transform_output(self, model_name, job)
        return job

    backend_cls.create_transform_job = create_transform_job  # type: ignore[method-assign]  # a documented moto patch


def _alarm_in_alarm(account: str, region: str, state: _EndpointState) -> str | None:
    from moto.cloudwatch.models import cloudwatch_backends

    alarms = cloudwatch_backends[account][region].alarms
    return next(
        (name for name in state.rollback_alarms if name in alarms and alarms[name].state_value == "ALARM"), None
    )


def _write_transform_output(sagemaker: Any, model_name: str, job: Any) -> None:
    """`<input>.out` under the job's S3OutputPath: the model behaviour's answers, with the job's DataProcessing."""
    from moto.s3.models import s3_backends

    from pipeline_definition.local_runner.transform import TransformError, transform_lines

    def located(uri: str) -> tuple[Any, str, str]:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        partition_account = s3_backends.bucket_accounts[bucket]
        return s3_backends[partition_account[1]][partition_account[0]], bucket, key

    source = job.transform_input["DataSource"]["S3DataSource"]["S3Uri"]
    backend, bucket, key = located(source)
    lines = backend.get_object(bucket, key).value.decode().split("\n")
    container = sagemaker.describe_model(model_name).primary_container

    def invoke(body: str) -> str:
        answer = _model_behaviour[0](
            ModelCall(
                container["ModelDataUrl"],
                dict(container.get("Environment") or {}),
                body,
                job.transform_input.get("ContentType", "text/csv"),
                job.transform_output.get("Accept", "text/csv"),
            )
        )
        if answer.status >= 400:
            raise TransformError(f"ClientError: {answer.status} {answer.body[:200]}")
        return answer.body

    try:
        # a model answering garbage writes garbage (the gate's check refuses it), as a real transform job would
        out_lines = transform_lines(lines, invoke, job.data_processing, max_payload_mb=job.max_payload_in_mb or 6)
    except TransformError as error:
        job.transform_job_status, job.failure_reason = "Failed", str(error)
        return
    out_backend, out_bucket, out_prefix = located(job.transform_output["S3OutputPath"].rstrip("/") + "/")
    out_key = f"{out_prefix}{key.rsplit('/', 1)[-1]}.out"
    out_backend.put_object(out_bucket, out_key, ("\n".join(out_lines) + "\n").encode())


def _patch_runtime() -> None:
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemakerruntime import responses

    original = responses.SageMakerRuntimeResponse.invoke_endpoint

    def invoke_endpoint(self: Any) -> Any:
        if not _model_behaviour:
            return original(self)
        name = self.path.split("/")[2]  # /endpoints/<name>/invocations (moto reads it from the body: None)
        sagemaker = sagemaker_backends[self.current_account][self.region]
        endpoint = sagemaker.endpoints.get(name)
        if endpoint is None or endpoint.endpoint_status not in ("InService", "Updating"):
            message = f"Endpoint {name} of account {self.current_account} not found or not in service."
            return 400, {"status": 400}, json.dumps({"__type": "ValidationError", "message": message})
        config = sagemaker.endpoint_configs[endpoint.endpoint_config_name]
        variant = config.production_variants[0]
        container = sagemaker.describe_model(variant["ModelName"]).primary_container
        body = self.body.decode() if isinstance(self.body, bytes) else str(self.body)
        call = ModelCall(
            container["ModelDataUrl"],
            dict(container.get("Environment") or {}),
            body,
            self.headers.get("Content-Type", "application/octet-stream"),
            self.headers.get("Accept", "*/*"),
        )
        answer = _model_behaviour[0](call)
        if answer.status >= 400:  # the container's error: InvokeEndpoint raises ModelError (HTTP 424)
            error = {
                "Message": f'Received client error ({answer.status}) from primary with message "{answer.body}".',
                "OriginalStatusCode": answer.status,
                "OriginalMessage": answer.body,
            }
            # moto takes a response's status from its "status" header, not from the tuple
            return 424, {"status": 424, "x-amzn-ErrorType": "ModelError"}, json.dumps(error)
        headers = {"Content-Type": answer.content_type, "x-Amzn-Invoked-Production-Variant": variant["VariantName"]}
        return 200, headers, answer.body

    responses.SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint  # type: ignore[method-assign]  # a documented moto patch


def _patch_autoscaling() -> None:
    from moto.applicationautoscaling.exceptions import AWSValidationException
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
    from moto.sagemaker.models import sagemaker_backends

    original = ApplicationAutoscalingBackend.register_scalable_target

    def register_scalable_target(
        self: Any, namespace: str, r_id: str, dimension: str, *args: Any, **kwargs: Any
    ) -> Any:
        if namespace == "sagemaker" and r_id.startswith("endpoint/"):
            name = r_id.split("/")[1]
            endpoint = sagemaker_backends[self.account_id][self.region_name].endpoints.get(name)
            state = _states.get(name)
            status = state.pending[0] if state and state.pending else (state.final if state else "InService")
            if endpoint is not None and status != "InService":
                raise AWSValidationException(f"Endpoint {name} is in status {status}; it must be InService.")
        return original(self, namespace, r_id, dimension, *args, **kwargs)

    ApplicationAutoscalingBackend.register_scalable_target = register_scalable_target  # type: ignore[method-assign]  # a documented moto patch


RequestValidator = Callable[[str, str, dict[str, Any]], list[str]]  # (botocore service, operation, params) -> problems
_validators: list[RequestValidator] = [validate_request]  # on by default: the twin refuses what AWS would
request_problems: list[str] = []  # every problem a validator found, "<service>.<operation>: <problem>"


def validate_requests(validator: RequestValidator | None = validate_request) -> None:
    """Check every request the interpreter's aws-sdk tasks send with `validator` (None: stop checking; the
    default: botocore's model, as from import). A request with problems fails its task (as AWS would with a
    ValidationException) and is recorded in `request_problems`, which this empties."""
    _validators[:] = [validator] if validator else []
    request_problems.clear()


_failures: dict[tuple[str, str], str] = {}


def fail_next_request(service: str, operation: str, message: str) -> None:
    """The next `service`.`operation` request of an aws-sdk task (botocore names, e.g. "ssm", "PutParameter")
    fails with an InternalFailure carrying `message`, as a throttled or broken AWS call would."""
    _failures[(service, operation)] = message


def _check_request(params: dict[str, Any], model: Any, **_: Any) -> None:
    from botocore.exceptions import ClientError

    service, operation = model.service_model.service_name, model.name
    if (message := _failures.pop((service, operation), None)) is not None:
        # moto's interpreter reads ResponseMetadata.RequestId of a ClientError, as botocore's carry one
        response: Any = {"Error": {"Code": "InternalFailure", "Message": message}}
        response["ResponseMetadata"] = {"HTTPStatusCode": 500, "RequestId": "twin"}
        raise ClientError(response, operation)
    if not _validators:
        return
    problems = _validators[0](service, operation, params)
    if problems:
        request_problems.extend(f"{service}.{operation}: {problem}" for problem in problems)
        raise ValueError(f"{service}.{operation} would be refused by AWS: " + "; ".join(problems))


_account = threading.local()  # the account of the state machine whose task runs on this thread


def account_clients(clients: dict[str, Any], account: str) -> None:
    """Make boto3 `clients` (on a moto server) act as `account`: moto reads the account from a request header."""

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    for client in clients.values():
        client.meta.events.register("before-sign.*.*", add_header)


_last_account: list[str] = []  # Lambda tasks invoke on a thread of their own: the task's account, from before


def _task_account(request: Any, **_: Any) -> None:
    account = getattr(_account, "id", None) or (_last_account[0] if _last_account else None)
    if account:
        request.headers["x-moto-account-id"] = account


def _patch_accounts() -> None:
    """Each task of an execution runs as its state machine's account (its resource's runtime part)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service

    def subclasses(cls: type) -> list[type]:
        found: list[type] = [cls]
        subs: list[type] = cls.__subclasses__()
        for sub in subs:
            found += subclasses(sub)
        return found

    base = state_task_service.StateTaskService
    for cls in subclasses(base):
        if "_eval_service_task" not in vars(cls):
            continue
        original = vars(cls)["_eval_service_task"]

        def eval_service_task(
            self: Any, env: Any, resource_runtime_part: Any, *args: Any, _o: Any = original, **kw: Any
        ) -> Any:
            _account.id = resource_runtime_part.account
            _last_account[:] = [resource_runtime_part.account]
            return _o(self, env, resource_runtime_part, *args, **kw)

        cls._eval_service_task = eval_service_task  # type: ignore[attr-defined]  # a documented moto patch


def _patch_clients() -> None:
    import importlib
    from pathlib import Path

    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    cache: dict[tuple[str, str, str], Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's own function ignores state_credentials (every client is the same fake key); which account a call
        # is made as comes from the task's resource, set per request by _task_account. So one client per service
        # and region serves every task: creating a botocore client costs ~30 ms, most of a task's CPU.
        del state_credentials
        key = (region, service, moto_server_port())
        with _lock:
            if key not in cache:
                cache[key] = original(region, service)
                cache[key].meta.events.register("before-parameter-build.*.*", _check_request)
                cache[key].meta.events.register("before-sign.*.*", _task_account)
            return cache[key]

    # Each interpreter module imported the function by name: import those modules and replace it there.
    parser = Path(boto_client.__file__).resolve().parents[2]
    for source in parser.rglob("*.py"):
        if "import boto_client_for" in source.read_text():
            relative = source.relative_to(parser.parent).with_suffix("")
            module = importlib.import_module("moto.stepfunctions." + ".".join(relative.parts))
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]  # a documented moto patch


def _patch_lambda() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> Any:
        name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
        handler = _lambdas.get(f"{self.account_id}:{name}") or _lambdas.get(name)
        if handler is None:
            return original(self, function_name, qualifier, body, headers, response_headers)
        environment = self.get_function(name).environment_vars or {}
        try:
            result = handler(json.loads(body or "{}"), dict(environment))
        except Exception as error:  # the Lambda runtime reports any exception as an unhandled function error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}).encode()
        return json.dumps(result).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]  # a documented moto patch


# ------------------------------------------------------------------------------------------------- JSONata


def _patch_jsonata() -> None:
    import jsonata
    from moto.stepfunctions.parser.asl.component.intrinsic import jsonata as intrinsics
    from moto.stepfunctions.parser.asl.eval import states, variable_store
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    # moto pastes every variable's value into the expression as a literal (`$states:={...whole input...};`), so
    # each evaluation is a new text to parse. Here the text names a placeholder (`$states:=$__twin_states;`) and
    # the value is bound to it at evaluation: the same few texts recur, each parsed once and kept. The values
    # are what the literals would have parsed to: moto's JSON encoding (datetimes of AWS responses as strings).
    # Placeholder -> value, per thread, set by `encode` for the expression it declares the variables of. They stay
    # after `evaluate`: moto's output checks evaluate the same text again (`$type(...)`, `$exists(...)`).
    pending = threading.local()
    compiled_by_text: dict[str, tuple[Any, threading.Lock]] = {}
    cache_lock = threading.Lock()

    def compiled(expression: str) -> tuple[Any, threading.Lock]:
        with cache_lock:
            found = compiled_by_text.get(expression)
        if found is None:
            program = jsonata.Jsonata(expression)
            program.register_lambda("uuid", lambda: str(uuid.uuid4()))
            found = (program, threading.Lock())  # an instance keeps per-evaluation state: one at a time
            with cache_lock:
                if len(compiled_by_text) >= 4096:
                    compiled_by_text.clear()
                compiled_by_text[expression] = found
        return found

    def evaluate(expression: str) -> Any:
        bindings = getattr(pending, "values", {})
        try:
            program, lock = compiled(expression)
            with lock:
                return program.evaluate(None, bindings)
        except Exception as error:  # moto maps JSONataException to States.QueryEvaluationError
            raise moto_jsonata.JSONataException("UNKNOWN", str(error)) from error

    def encode(bindings: dict[str, Any]) -> str:
        values = pending.__dict__.setdefault("values", {})
        declarations = []
        for name, value in bindings.items():
            placeholder = "__twin_" + name.lstrip("$").replace(".", "_")
            values[placeholder] = value if isinstance(value, str) else json.loads(to_json_str(value))
            declarations.append(f"{name}:=${placeholder};")
        return "".join(declarations)

    def variable_declarations(self: Any) -> str:
        # moto keeps the declarations text of a variable store; with placeholders the values must be bound again in
        # the evaluating thread (Map iterations run in their own threads), so they are encoded for every expression.
        return "".join(self._to_variable_declarations(scope) for scope in (self._outer_scope, self._inner_scope))

    moto_jsonata._eval_jsonata = evaluate
    variable_store.VariableStore.get_variable_declarations = variable_declarations  # type: ignore[method-assign]
    # Step Functions names Application Auto Scaling `applicationautoscaling` (SDK v2); boto3 needs the hyphen.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES["applicationautoscaling"] = "application-autoscaling"
    intrinsics._DECLARATION_BY_VARIABLE_REFERENCE["$uuid"] = ""  # bound by `evaluate` instead
    for module in (moto_jsonata, states, variable_store):
        module.encode_jsonata_variable_declarations = encode  # type: ignore[attr-defined]


def _patch_send_task_failure() -> None:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]  # a documented moto patch


def history_json(history: Any) -> str:
    """A GetExecutionHistory output as moto's serializer writes it for the awsJson1_0 protocol: members that are None
    left out, each event's timestamp (an ISO-8601 text in moto's events) as epoch seconds to the millisecond."""

    def pruned(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: pruned(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [pruned(v) for v in value]
        return value

    def epoch(value: Any) -> float:
        moment = parse_to_aware_datetime(value)
        return float(calendar.timegm(moment.timetuple()) + (moment.microsecond // 1000) / 1000)

    output = pruned(dict(history))
    for event in output["events"]:
        event["timestamp"] = epoch(event["timestamp"])
    return json.dumps(output)


#: moto's own GetExecutionHistory handler, once patched (a test compares what botocore reads from both)
moto_execution_history: list[Callable[[Any], Any]] = []


def _patch_execution_history() -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    moto_serialized = StepFunctionResponse.get_execution_history
    moto_execution_history.append(moto_serialized)

    def get_execution_history(self: Any) -> Any:
        history = self.stepfunction_backend.get_execution_history(self._get_param("executionArn"))
        if not isinstance(history, dict) or not isinstance(history.get("events"), list):
            return moto_serialized(self)  # not the interpreter's history: moto's own serializer
        return history_json(history), {"Content-Type": "application/x-amz-json-1.0"}

    StepFunctionResponse.get_execution_history = get_execution_history  # type: ignore[method-assign]  # documented above


def _patch_parse_once() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    parsed: dict[str, Any] = {}  # definition -> its parsed program, never executed itself
    validate = StepFunctionsParserBackend._validate_definition

    lock = threading.Lock()

    def parse(definition: str) -> Any:
        with lock:
            program = parsed.get(definition)
        if program is None:
            program = AmazonStateLanguageParser.parse(definition)[0]
            with lock:
                if len(parsed) >= 32:  # drop the oldest
                    parsed.pop(next(iter(parsed)))
                parsed[definition] = program
        return program

    def validate_and_keep(definition: str) -> None:
        try:
            parse(definition)
        except Exception:
            validate(definition)  # moto's own validation raises its InvalidDefinition, with its message
            raise

    def entrypoint(self: Any) -> Any:
        # A copy per execution: a program's components may hold state while they run, as moto's fresh parse would.
        return copy.deepcopy(parse(self._evaluation_details.state_machine_details.definition))

    StepFunctionsParserBackend._validate_definition = staticmethod(validate_and_keep)  # type: ignore[method-assign]
    ExecutionWorker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign]  # documented above


#: The description that marks a KMS key as a twin's stand-in for a stack's key (`twin.promotion`).
STAND_IN_KEY = "twin stand-in for the stack output "


def _patch_stand_in_key_ids() -> None:
    from moto.kms.models import Key

    original = Key.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.description.startswith(STAND_IN_KEY):  # the same id in every test for the same output
            self.id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.account_id}/{self.region}/{self.description}"))
            self.arn = self.arn.rsplit("/", 1)[0] + "/" + self.id

    Key.__init__ = init  # type: ignore[method-assign]  # documented above


def enable_local_step_functions() -> None:
    """Apply every patch above, once per process (idempotent). The moto config still has to ask for execution:
    `local_step_functions_config()`."""
    global _applied
    with _lock:
        if _applied:
            return
        _patch_jsonata()
        _patch_sagemaker()
        _patch_runtime()
        _patch_lambda()
        _patch_send_task_failure()
        _patch_autoscaling()
        _patch_clients()  # imports every interpreter module: every task class exists for _patch_accounts
        _patch_accounts()
        _patch_parse_once()
        _patch_execution_history()
        _patch_stand_in_key_ids()
        _applied = True
