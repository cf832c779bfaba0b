"""Check AWS JSON documents against botocore's service models (the shapes AWS itself documents).

The embedded AWS answers with documents our extensions build by hand. botocore's parser
accepts nearly anything (it drops unknown members, never checks required ones or enums), so a
misspelt member or a wrong enum value would pass every test while real AWS answers differently.
validate_output() walks an operation's output shape and lists every difference:

- a member the shape does not have, a required member missing (or null);
- a value of the wrong type (structure, list, map, string, integer/long, float/double,
  boolean, timestamp, blob);
- a string outside the shape's enum, a string, list or map outside its min/max length, a
  number outside its min/max;
- the element shapes of lists and the key and value shapes of maps, recursively.

Timestamps: in the JSON protocol AWS sends epoch seconds (a number) unless the shape has a
timestampFormat (botocore's serializers and parsers follow the same rule); ISO 8601 strings
are accepted where the shape says iso8601.

Only the JSON protocol is handled: every service our extensions touch (budgets, ce,
sagemaker, application-autoscaling, pricing) speaks it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any, cast

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

__all__ = ["operation_model", "operation_names", "service_model", "validate_input", "validate_output"]


@cache
def _botocore_session() -> Any:
    # One session: loading botocore's models is the slow part, and they never change.
    return botocore.session.get_session()


@cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of a service, by boto3 client name ("budgets", "application-autoscaling")."""
    return _botocore_session().get_service_model(service)  # type: ignore[no-any-return]


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


@cache
def operation_names(service: str) -> dict[str, str]:
    """snake_case method name -> API operation name ("describe_budget" -> "DescribeBudget")."""
    from botocore import xform_name

    return {xform_name(name): name for name in service_model(service).operation_names}


def validate_output(service: str, operation: str, document: object) -> list[str]:
    """Every way `document` (a parsed JSON response body) differs from the operation's output shape."""
    model = operation_model(service, operation)
    return _validate_body(model.output_shape, document, model)


def validate_input(service: str, operation: str, document: object) -> list[str]:
    """Every way `document` (a parsed JSON request body) differs from the operation's input shape."""
    model = operation_model(service, operation)
    return _validate_body(model.input_shape, document, model)


def _validate_body(shape: StructureShape | None, document: object, model: OperationModel) -> list[str]:
    if model.metadata.get("protocol") != "json":
        raise ValueError(
            f"{model.service_model.service_name} speaks {model.metadata.get('protocol')}, not json"
        )
    errors: list[str] = []
    if shape is None:
        # An operation without an output shape answers an empty JSON object.
        if document not in ({}, None):
            errors.append(f"$: the operation has no output members but the body is {_short(document)}")
        return errors
    _check(shape, document, "$", errors)
    return errors


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check(shape: Shape, value: object, path: str, errors: list[str]) -> None:
    checker = _CHECKERS.get(shape.type_name)
    if checker is None:  # pragma: no cover - botocore has no other types today
        errors.append(
            f"{path}: shape {shape.name} has type {shape.type_name}, which the validator does not know"
        )
        return
    checker(shape, value, path, errors)


def _check_integer(shape: Shape, value: object, path: str, errors: list[str]) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(f"{path}: expected {shape.type_name} ({shape.name}), got {_short(value)}")
    else:
        _check_range(shape, value, path, errors)


def _check_float(shape: Shape, value: object, path: str, errors: list[str]) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        errors.append(f"{path}: expected {shape.type_name} ({shape.name}), got {_short(value)}")
    else:
        _check_range(shape, value, path, errors)


def _check_boolean(shape: Shape, value: object, path: str, errors: list[str]) -> None:
    if not isinstance(value, bool):
        errors.append(f"{path}: expected boolean ({shape.name}), got {_short(value)}")


def _check_blob(shape: Shape, value: object, path: str, errors: list[str]) -> None:
    if not isinstance(value, str) or not _is_base64(value):
        errors.append(f"{path}: expected a base64 blob ({shape.name}), got {_short(value)}")


def _check_document(shape: Shape, value: object, path: str, errors: list[str]) -> None:
    return  # any JSON value


def _check_structure(shape: StructureShape, value: object, path: str, errors: list[str]) -> None:
    if not isinstance(value, Mapping):
        errors.append(f"{path}: expected structure {shape.name}, got {_short(value)}")
        return
    # JSON protocol members are named by serialization name when the model gives one.
    by_wire = {
        member.serialization.get("name", name): (name, member) for name, member in shape.members.items()
    }
    for key, item in value.items():
        if key not in by_wire:
            errors.append(
                f"{path}: {shape.name} has no member {key!r} (members: {', '.join(sorted(by_wire))})"
            )
            continue
        name, member = by_wire[key]
        if item is None:
            # AWS leaves absent members out; JSON null is never sent for a member.
            errors.append(f"{path}.{key}: null (AWS omits members without a value)")
            continue
        _check(member, item, f"{path}.{key}", errors)
    for name in shape.required_members:
        wire = shape.members[name].serialization.get("name", name)
        if value.get(wire) is None:
            errors.append(f"{path}: required member {wire!r} of {shape.name} is missing")
    if shape.metadata.get("union") and len([k for k in value if k in by_wire]) > 1:
        errors.append(f"{path}: {shape.name} is a union; exactly one member may be set")


def _check_list(shape: ListShape, value: object, path: str, errors: list[str]) -> None:
    if not isinstance(value, list):
        errors.append(f"{path}: expected list {shape.name}, got {_short(value)}")
        return
    _check_length(shape, len(value), path, errors)
    for index, item in enumerate(value):
        _check(shape.member, item, f"{path}[{index}]", errors)


def _check_map(shape: MapShape, value: object, path: str, errors: list[str]) -> None:
    if not isinstance(value, Mapping):
        errors.append(f"{path}: expected map {shape.name}, got {_short(value)}")
        return
    _check_length(shape, len(value), path, errors)
    for key, item in value.items():
        _check(shape.key, key, f"{path}<key {key!r}>", errors)
        _check(shape.value, item, f"{path}[{key!r}]", errors)


def _check_string(shape: Shape, value: object, path: str, errors: list[str]) -> None:
    if not isinstance(value, str):
        errors.append(f"{path}: expected string ({shape.name}), got {_short(value)}")
        return
    enum: list[str] = shape.metadata.get("enum", [])
    if enum and value not in enum:
        errors.append(f"{path}: {value!r} is not one of {shape.name}'s values {', '.join(enum)}")
    _check_length(shape, len(value), path, errors)


def _check_length(shape: Shape, length: int, path: str, errors: list[str]) -> None:
    _check_range(shape, length, path, errors, what="length ")


def _check_range(shape: Shape, number: float, path: str, errors: list[str], what: str = "") -> None:
    """A number's min and max, or (`what` "length ") a string's, list's or map's length: botocore's
    models keep both in the same min and max."""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and number < low:
        errors.append(f"{path}: {what}{number} is below {shape.name}'s min {low}")
    if high is not None and number > high:
        errors.append(f"{path}: {what}{number} is above {shape.name}'s max {high}")


def _check_timestamp(shape: Shape, value: object, path: str, errors: list[str]) -> None:
    fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
    if fmt == "unixTimestamp":
        if not isinstance(value, int | float) or isinstance(value, bool):
            errors.append(
                f"{path}: expected a timestamp in epoch seconds ({shape.name}), got {_short(value)}"
            )
        return
    if not isinstance(value, str):
        errors.append(f"{path}: expected a {fmt} timestamp string ({shape.name}), got {_short(value)}")
        return
    if fmt == "iso8601":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            errors.append(f"{path}: {value!r} is not an ISO 8601 timestamp ({shape.name})")


Checker = Callable[[Any, object, str, list[str]], None]
_CHECKERS: dict[str, Checker] = {
    "structure": cast(Checker, _check_structure),
    "list": cast(Checker, _check_list),
    "map": cast(Checker, _check_map),
    "string": cast(Checker, _check_string),
    "integer": cast(Checker, _check_integer),
    "long": cast(Checker, _check_integer),
    "float": cast(Checker, _check_float),
    "double": cast(Checker, _check_float),
    "boolean": cast(Checker, _check_boolean),
    "timestamp": cast(Checker, _check_timestamp),
    "blob": cast(Checker, _check_blob),
    "document": cast(Checker, _check_document),
}


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True
