"""Check an AWS API request against botocore's service model, constraints botocore itself skips included.

botocore's own parameter validation checks required members, unknown members, types and minimums, but never a
string's maximum length, a number's maximum, an enum or a `pattern`. AWS checks all of them server side, so a
request that botocore sends happily can still fail with a ValidationException in the account. `validate_request`
walks the operation's input shape and reports every problem with the path of the member that breaks it.

Patterns in the models are Java regular expressions (`\\p{L}`, `\\uD800\\uDC00` surrogate pairs), applied by AWS to
the whole value: they are compiled with the `regex` package (which knows Unicode property classes) and matched
with `fullmatch`.

The one implementation of that check, in project code because the twins use it, not only tests: the local runner
checks its CreateModelPackage with it (`check_service_constraints`), the promotion twin the requests of its state
machine's aws-sdk tasks (`twin.moto_patches.validate_requests`), and tests every boto3 call of the code they run
(`validate_every_client`). Standard library, botocore and `regex` only, so that anything may import it.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from typing import Any, Protocol

import botocore.session
import regex
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

_SURROGATE_PAIR = regex.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", regex.IGNORECASE)
_INTEGERS = ("integer", "long")
_FLOATS = ("float", "double")


class Patcher(Protocol):
    """What `validate_every_client` needs of pytest's `monkeypatch`: a setattr that is undone later."""

    def setattr(self, target: Any, name: str, value: Any) -> None: ...


class RequestContractError(ValueError):
    """A request that AWS would refuse; `problems` lists each broken constraint with its path."""

    def __init__(self, service: str, operation: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{service}.{operation}: " + "; ".join(problems))


@functools.cache
def _service(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _pattern(java_pattern: str) -> regex.Pattern[str]:
    """Compile a Java pattern: a UTF-16 surrogate pair becomes the one code point it stands for."""

    def code_point(match: regex.Match[str]) -> str:
        high, low = int(match[1], 16), int(match[2], 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    return regex.compile(_SURROGATE_PAIR.sub(code_point, java_pattern))


def validate_request(service: str, operation: str, params: Mapping[str, Any]) -> list[str]:
    """Every way `params` breaks the input shape of `service`.`operation` (botocore names); [] when it fits."""
    operation_model = _service(service).operation_model(operation)
    if operation_model.input_shape is None:
        return [f"<root>: {operation} takes no parameters, got {sorted(params)}"] if params else []
    problems: list[str] = []
    _check(operation_model.input_shape, params, "", problems)
    return problems


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    where = path or "<root>"
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, Mapping):
            problems.append(f"{where}: expected a structure ({shape.name}), got {type(value).__name__}")
            return
        if shape.is_document_type:
            return
        for name in shape.required_members:
            # botocore fills a missing idempotency token (ClientRequestToken) itself, after this check runs.
            if name not in value and not shape.members[name].metadata.get("idempotencyToken"):
                problems.append(f"{_join(path, name)}: required member missing")
        for name, member_value in value.items():
            if name not in shape.members:
                problems.append(f"{_join(path, name)}: unknown member of {shape.name}")
                continue
            _check(shape.members[name], member_value, _join(path, name), problems)
        if shape.is_tagged_union and len(value) != 1:
            problems.append(f"{where}: a union takes exactly one member, got {sorted(value)}")
        return
    if isinstance(shape, ListShape):
        if not isinstance(value, list | tuple):
            problems.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        _check_range(shape, len(value), where, "items", problems)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]", problems)
        return
    if isinstance(shape, MapShape):
        if not isinstance(value, Mapping):
            problems.append(f"{where}: expected a map, got {type(value).__name__}")
            return
        _check_range(shape, len(value), where, "entries", problems)
        for key, item in value.items():
            _check(shape.key, key, f"{where} key {key!r}", problems)
            _check(shape.value, item, _join(path, str(key)), problems)
        return
    if kind == "string":
        _check_string(shape, value, where, problems)
    elif kind in _INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {value!r}")
        else:
            _check_range(shape, value, where, "value", problems)
    elif kind in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{where}: expected a number, got {value!r}")
        else:
            _check_range(shape, value, where, "value", problems)
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean, got {value!r}")
    elif kind == "timestamp":
        if not isinstance(value, datetime.datetime | str | int | float) or isinstance(value, bool):
            problems.append(f"{where}: expected a timestamp, got {value!r}")
    elif kind == "blob" and not isinstance(value, bytes | bytearray | str) and not hasattr(value, "read"):
        problems.append(f"{where}: expected bytes or a file, got {type(value).__name__}")


def _check_range(shape: Shape, measure: float, where: str, what: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measure < low:
        problems.append(f"{where}: {what} {measure} is below the minimum {low}")
    if high is not None and measure > high:
        problems.append(f"{where}: {what} {measure} is above the maximum {high}")


def _check_string(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, got {type(value).__name__} {value!r}")
        return
    _check_range(shape, len(value), where, "length", problems)
    if shape.enum and value not in shape.enum:
        allowed = ", ".join(shape.enum[:8]) + (f", ... ({len(shape.enum)} values)" if len(shape.enum) > 8 else "")
        problems.append(f"{where}: {value!r} is not one of {allowed}")
    pattern = shape.metadata.get("pattern")
    if pattern is not None and _pattern(pattern).fullmatch(value) is None:
        problems.append(f"{where}: {value!r} does not match {pattern!r}")


def _raise_on_bad_params(params: Mapping[str, Any], model: OperationModel, **_: Any) -> None:
    service = model.service_model.service_name
    problems = validate_request(service, model.name, params)
    if problems:
        raise RequestContractError(service, model.name, problems)


def install_validating_hook(client_or_session: Any) -> None:
    """Make every call of a boto3/botocore client (or of every client a session creates from now on) raise
    `RequestContractError` before it is sent when its parameters break the API's published constraints."""
    events = getattr(client_or_session, "meta", None)
    emitter = events.events if events is not None else getattr(client_or_session, "events", None)
    if emitter is None and hasattr(client_or_session, "get_component"):
        emitter = client_or_session.get_component("event_emitter")
    if emitter is None:
        raise TypeError(f"not a boto3/botocore client or session: {type(client_or_session).__name__}")
    # provide-client-params carries the caller's parameters (before serialisation) and the operation model.
    emitter.register("provide-client-params.*.*", _raise_on_bad_params, unique_id="botocore-contract-validation")


def validate_every_client(monkeypatch: Patcher) -> None:
    """`install_validating_hook` on every client any botocore session creates from now on (boto3's default
    session, the sessions code under test makes itself, Powertools' own), undone with `monkeypatch`."""
    create_client = botocore.session.Session.create_client

    @functools.wraps(create_client)
    def validating(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        install_validating_hook(client)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", validating)
