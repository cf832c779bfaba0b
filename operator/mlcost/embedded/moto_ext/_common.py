"""Helpers shared by the moto extensions: idempotent patching, per-backend state, decimals."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

from moto.core.models import DEFAULT_ACCOUNT_ID

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "ext_state",
    "extension_operations",
    "on_reset",
    "original",
    "patch",
    "register_operations",
    "reset_callbacks",
    "to_decimal",
]

T = TypeVar("T")

# The first value each patched attribute had, so that patching twice never wraps our own
# function and original() always reaches moto's implementation.
_ORIGINALS: dict[tuple[type, str], Any] = {}


def patch(cls: type, name: str, value: Callable[..., Any]) -> None:
    """Set cls.name to value, remembering moto's own attribute the first time."""
    key = (cls, name)
    if key not in _ORIGINALS:
        _ORIGINALS[key] = cls.__dict__.get(name)
    setattr(cls, name, value)


# boto3 service name of each moto package whose classes the extensions patch.
_MOTO_PACKAGE_SERVICE = {
    "budgets": "budgets",
    "ce": "ce",
    "sagemaker": "sagemaker",
    "applicationautoscaling": "application-autoscaling",
}
# Operations served by classes of our own (moto has no backend for them), by service.
_REGISTERED: set[tuple[str, str]] = set()


# State of extensions that keep it outside moto's backends (services moto lacks), cleared by
# POST /moto-api/reset (dispatch runs these after moto's own reset).
_RESET_CALLBACKS: list[Callable[[], None]] = []


def on_reset(callback: Callable[[], None]) -> None:
    """Run `callback` whenever moto is reset (once per callback, however often registered)."""
    if callback not in _RESET_CALLBACKS:
        _RESET_CALLBACKS.append(callback)


def reset_callbacks() -> list[Callable[[], None]]:
    return list(_RESET_CALLBACKS)


def register_operations(service: str, *operations: str) -> None:
    """Declare operations an extension serves with a class of its own (e.g. the Price List API)."""
    _REGISTERED.update((service, operation) for operation in operations)


def extension_operations() -> frozenset[tuple[str, str]]:
    """(boto3 service, API operation) of every operation whose answer an extension builds or changes.

    Derived from what patch() replaced (a backend or response method named after an
    operation) and what register_operations() declared, so a new extension is listed
    without anyone keeping a list. Patched helpers that are not operations are left out.
    """
    # Imported here: shapes loads botocore's models, which the patching itself never needs.
    from ..shapes import operation_names

    found = set(_REGISTERED)
    for cls, name in _ORIGINALS:
        package = cls.__module__.split(".")
        if len(package) < 2 or package[0] != "moto" or package[1] not in _MOTO_PACKAGE_SERVICE:
            continue
        service = _MOTO_PACKAGE_SERVICE[package[1]]
        operation = operation_names(service).get(name)
        if operation is not None:
            found.add((service, operation))
    return frozenset(found)


def original(cls: type, name: str) -> Callable[..., Any]:
    """Moto's implementation of cls.name from before patch() replaced it."""
    found = _ORIGINALS.get((cls, name))
    if found is None:
        raise LookupError(f"{cls.__name__}.{name} was not patched or had no original")
    return cast(Callable[..., Any], found)


def ext_state(owner: object, factory: Callable[[], T]) -> T:
    """The extension state of type T kept on a moto backend.

    It lives in the backend's __dict__ because moto's reset (POST /moto-api/reset) empties
    that dict and re-runs __init__ on the same object: our state is reset with moto's.
    """
    key = f"_mlcost_{getattr(factory, '__name__', 'state')}"
    store: dict[str, Any] = owner.__dict__
    value = store.get(key)
    if value is None:
        value = store.setdefault(key, factory())
    return cast(T, value)


def to_decimal(value: object) -> Decimal | None:
    """A finite Decimal from an AWS numeric string (or number), None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None
