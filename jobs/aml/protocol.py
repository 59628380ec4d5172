"""Amazon ML's wire protocol from botocore's own service model: JSON 1.1, `X-Amz-Target: AmazonML_20141212.<Op>`.

Every request is checked with botocore's validator against the operation's input shape before anything
runs, and every answer against its output shape; errors are the service's exception shapes, sent as
`{"__type": ..., "message": ..., "code": ...}` so botocore raises the modeled exception class.
"""

from __future__ import annotations

import functools
from typing import Any, Dict

TARGET_PREFIX = "AmazonML_20141212."
CONTENT_TYPE = "application/x-amz-json-1.1"
STATUS = {
    "InvalidInputException": 400,
    "ResourceNotFoundException": 404,
    "IdempotentParameterMismatchException": 400,
    "LimitExceededException": 417,
    "PredictorNotMountedException": 400,
    "InvalidTagException": 400,
    "TagLimitExceededException": 400,
    "UnknownOperationException": 400,
    "InternalServerException": 500,
}


class AmlError(Exception):
    """One of the service's exceptions: its shape name, message and HTTP status."""

    def __init__(self, kind: str, message: str, status: int = 0):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status or STATUS.get(kind, 400)

    def body(self) -> Dict[str, Any]:
        """The JSON error document botocore's JSON parser reads."""
        out: Dict[str, Any] = {"__type": self.kind, "message": self.message}
        if self.kind not in ("PredictorNotMountedException", "InvalidTagException", "TagLimitExceededException"):
            out["code"] = self.status
        return out


def invalid(message: str) -> AmlError:
    """InvalidInputException with a message."""
    return AmlError("InvalidInputException", message)


def not_found(kind: str, entity_id: str) -> AmlError:
    """ResourceNotFoundException naming the entity."""
    return AmlError("ResourceNotFoundException", f"No {kind} with id {entity_id!r} exists")


@functools.lru_cache(maxsize=1)
def service_model():
    """botocore's `machinelearning` 2014-12-12 service model."""
    import botocore.session

    return botocore.session.get_session().get_service_model("machinelearning")


def operation_names():
    """The service's operation names (CreateMLModel, ...)."""
    return list(service_model().operation_names)


def operation(name: str):
    """botocore's OperationModel of an operation; UnknownOperationException for anything else."""
    if name not in service_model().operation_names:
        raise AmlError("UnknownOperationException", f"unknown operation {name!r} of AmazonML_20141212")
    return service_model().operation_model(name)


def check(params: Any, shape, what: str, kind: str = "InvalidInputException") -> None:
    """botocore's validation of a value against a shape; an AmlError of `kind` listing the problems."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    if not isinstance(params, dict):
        raise AmlError(kind, f"{what}: expected a JSON object")
    try:
        validate_parameters(params, shape)
    except ParamValidationError as error:
        raise AmlError(kind, f"{what}: {error.kwargs.get('report', error)}") from None


def check_request(name: str, params: Any) -> None:
    """The request against the operation's input shape (InvalidInputException)."""
    check(params, operation(name).input_shape, name)


def check_response(name: str, body: Dict[str, Any]) -> None:
    """The answer against the operation's output shape (InternalServerException: a lakeml bug)."""
    check(body, operation(name).output_shape, f"{name} response", "InternalServerException")


def output_members(name: str):
    """The member names of an operation's output shape."""
    return list(operation(name).output_shape.members)


def shape_members(shape_name: str):
    """The member names of a named shape (DataSource, MLModel, ...)."""
    return list(service_model().shape_for(shape_name).members)


def cli_name(name: str) -> str:
    """The AWS CLI's kebab-case name of an operation (CreateMLModel -> create-ml-model)."""
    from botocore import xform_name

    return xform_name(name, "-")


def operation_of_cli(command: str) -> str:
    """The operation a kebab-case CLI command names; UsageError-style ValueError when none does."""
    names = {cli_name(n): n for n in operation_names()}
    if command not in names:
        raise ValueError(f"unknown aml command {command!r}; known: serve, {', '.join(sorted(names))}")
    return names[command]
