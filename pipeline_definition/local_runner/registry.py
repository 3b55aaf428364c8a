"""RegisterModel (and model-package) steps: CreateModelPackage on the twin, after the checks SageMaker makes.

botocore checks types and minimum lengths before sending; the service also enforces each string's `pattern`,
maximum length and enum from its model, which moto does not. With `check`, `twin.api_contract` applies all of
them first, so a value AWS would refuse fails here too.
"""

from __future__ import annotations

from typing import Any

from pipeline_definition.local_runner.errors import StepFailed
from pipeline_definition.local_runner.expressions import render
from twin.api_contract import validate_request


def register_model(sagemaker: Any, step: str, arguments: dict[str, Any], *, check: bool) -> dict[str, Any]:
    """CreateModelPackage with the step's resolved arguments; the package ARN is the step's output."""
    request = _strings_where_api_wants_strings(arguments)
    if check:
        errors = validate_request("sagemaker", "CreateModelPackage", request)
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
