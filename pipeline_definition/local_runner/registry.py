"""RegisterModel (and model-package) steps: CreateModelPackage on the twin, after the checks SageMaker makes.

botocore checks types and minimum lengths before sending; the service also enforces each string's `pattern` and
maximum length from its model, which moto does not. `service_constraint_errors` applies those from botocore's own
service model (patterns are Java regexes with \\p{..} classes, hence the `regex` package), so a value AWS would
refuse fails here too.
"""

from __future__ import annotations

from typing import Any

import regex
from botocore.model import Shape

from pipeline_definition.local_runner.errors import StepFailed
from pipeline_definition.local_runner.expressions import render


def service_constraint_errors(shape: Shape, value: Any, path: str = "") -> list[str]:
    """Every string in `value` that breaks its shape's `pattern` or `max` length, as 'path: reason'."""
    errors: list[str] = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                errors += service_constraint_errors(member, value[name], f"{path}.{name}".lstrip("."))
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            errors += service_constraint_errors(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            errors += service_constraint_errors(shape.key, key, f"{path} key '{key}'")
            errors += service_constraint_errors(shape.value, item, f"{path}.{key}")
    elif shape.type_name == "string" and isinstance(value, str):
        limits = shape.metadata
        if "max" in limits and len(value) > limits["max"]:
            errors.append(f"{path}: {len(value)} characters, at most {limits['max']} allowed")
        if "min" in limits and len(value) < limits["min"]:
            errors.append(f"{path}: {len(value)} characters, at least {limits['min']} required")
        if "pattern" in limits and not regex.fullmatch(limits["pattern"], value):
            errors.append(f"{path}: value {value!r} does not match the pattern {limits['pattern']}")
    return errors


def register_model(sagemaker: Any, step: str, arguments: dict[str, Any], *, check: bool) -> dict[str, Any]:
    """CreateModelPackage with the step's resolved arguments; the package ARN is the step's output."""
    request = _strings_where_api_wants_strings(arguments)
    if check:
        shape = sagemaker.meta.service_model.operation_model("CreateModelPackage").input_shape
        errors = service_constraint_errors(shape, request)
        if errors:
            raise StepFailed("CreateModelPackage would be refused by SageMaker: " + "; ".join(errors))
    try:
        arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
    except Exception as err:  # botocore's ParamValidationError and ClientError, both worth their message
        raise StepFailed(f"CreateModelPackage failed: {err}") from err
    return {"ModelPackageArn": arn, "ModelApprovalStatus": request.get("ModelApprovalStatus")}


def _strings_where_api_wants_strings(arguments: dict[str, Any]) -> dict[str, Any]:
    """Metadata values resolved from numeric parameters are sent as strings, as SageMaker renders them."""
    request = dict(arguments)
    if isinstance(request.get("CustomerMetadataProperties"), dict):
        request["CustomerMetadataProperties"] = {k: render(v) for k, v in request["CustomerMetadataProperties"].items()}
    return request
