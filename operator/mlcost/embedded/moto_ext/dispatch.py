"""Moto request dispatch hooks: counts every AWS call received, injects AWS errors on demand and
a per-request latency."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import moto
from botocore.exceptions import UnknownServiceError
from moto.core import errors as moto_errors
from moto.core.common_types import TYPE_RESPONSE
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.moto_api._internal.models import MotoAPIBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from ._common import extension_operations, original, patch, reset_callbacks

__all__ = [
    "STRICT_ENV",
    "ShapeError",
    "calls",
    "clear_faults",
    "clear_shape_errors",
    "inject_error",
    "install",
    "latency_ms",
    "operator_operations",
    "reset_calls",
    "set_latency",
    "set_strict",
    "shape_errors",
    "strict",
]

log = logging.getLogger(__name__)

# Strict mode (on when this variable is "1", or after set_strict(True)): every 2xx answer of
# an extension operation is checked against botocore's output shape, every JSON request
# against the input shape. A malformed answer becomes a 501 that names each difference and is
# kept in shape_errors() for the test suite to fail on; an invalid request is refused with a
# 400 as AWS refuses it (botocore checks types, required members and minimums client-side, but
# not enums or maximum lengths).
STRICT_ENV = "MLCOST_EMBEDDED_STRICT"
# botocore's user agent of the operator's own clients (AwsSessions' user_agent_extra).
OPERATOR_USER_AGENT = "mlcost-operator"

# Status codes of AWS's common errors where they are not 400 (the AWS "Common Errors" page):
# throttling stays 400 in the JSON and query protocols, access errors are 403.
_DEFAULT_STATUS = {
    "AccessDenied": 403,
    "AccessDeniedException": 403,
    "ExpiredToken": 403,
    "ExpiredTokenException": 403,
    "IncompleteSignature": 403,
    "InvalidClientTokenId": 403,
    "MissingAuthenticationToken": 403,
    "OptInRequired": 403,
    "UnrecognizedClientException": 403,
    "InternalError": 500,
    "InternalErrorException": 500,
    "InternalFailure": 500,
    "InternalServerError": 500,
    "InternalServerException": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
}

WILDCARD = "*"


@dataclass
class _Fault:
    code: str
    message: str
    status: int
    remaining: int | None  # None: until cleared


class InjectedError(ServiceException):
    """An error answered in place of an operation.

    Defined outside moto on purpose: moto looks for an exception's error shape in the
    service its module is named after, and would look for a service called "core".
    """


_lock = threading.Lock()
_faults: dict[tuple[str, str], list[_Fault]] = {}
_calls: Counter[tuple[str, str]] = Counter()
# Mutable settings of this process: "strict", the injected latency (seconds), and the
# extension operations once computed.
_settings: dict[str, Any] = {
    "strict": os.environ.get(STRICT_ENV, "") == "1",
    "latency": 0.0,
    "extension_ops": None,
}
# moto's own control plane (reset, state, our extensions' hooks) is not AWS: no latency there.
_CONTROL_PREFIX = "/moto-api"


@dataclass(frozen=True)
class ShapeError:
    """An answer of an extension that does not match botocore's output shape."""

    service: str
    operation: str
    problems: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.service}:{self.operation}: " + "; ".join(self.problems)


_shape_errors: list[ShapeError] = []
# Operations the operator's own clients sent, since the process started (never reset): what
# deploy/iam-policy.json must allow.
_operator_ops: set[tuple[str, str]] = set()


def set_strict(on: bool) -> None:
    """Switch strict shape checking on or off for this process."""
    _settings["strict"] = on


def strict() -> bool:
    """Whether answers and requests are checked against botocore's shapes."""
    return bool(_settings["strict"])


def set_latency(milliseconds: float) -> None:
    """Delay every AWS request served by this process this long before it is answered.

    Loopback answers in well under a millisecond where real AWS takes tens, so wall times
    measured here say nothing about AWS until a round trip is added. The wait happens in the
    request's own server thread: concurrent requests wait in parallel, as they would on AWS.
    /moto-api (hooks, reset) is not delayed; reset() keeps the setting, like strict mode.
    """
    if milliseconds < 0:
        raise ValueError("latency must be at least 0 ms")
    _settings["latency"] = milliseconds / 1000


def latency_ms() -> float:
    """The injected per-request latency in milliseconds (0: none)."""
    return float(_settings["latency"]) * 1000


def shape_errors() -> list[ShapeError]:
    """The malformed extension answers seen (strict mode) since clear_shape_errors()."""
    with _lock:
        return list(_shape_errors)


def clear_shape_errors() -> None:
    with _lock:
        _shape_errors.clear()


def operator_operations() -> set[tuple[str, str]]:
    """(service, operation) of every request sent by the operator's clients since the process started."""
    with _lock:
        return set(_operator_ops)


def default_status(code: str) -> int:
    """The HTTP status AWS answers with for a common error code (400 unless listed)."""
    return _DEFAULT_STATUS.get(code, 400)


def inject_error(
    service: str,
    operation: str,
    code: str,
    message: str | None = None,
    count: int | None = 1,
    status: int | None = None,
) -> None:
    """Make the next `count` calls of service:operation fail with AWS error `code`.

    service is the boto3 client name ("budgets", "sagemaker", "cloudwatch", ...), operation the
    API name ("DescribeBudget") or "*" for every operation of the service. count=None fails
    every call until clear_faults(). status defaults to AWS's status for the code. Faults
    queue up: a second inject for the same operation applies after the first is used up.
    """
    if count is not None and count < 1:
        raise ValueError("count must be at least 1 (or None for 'until cleared')")
    fault = _Fault(
        code=code,
        message=message or f"Injected {code} for {service}:{operation}",
        status=status if status is not None else default_status(code),
        remaining=count,
    )
    with _lock:
        _faults.setdefault((service, operation), []).append(fault)


def clear_faults() -> None:
    """Forget every injected error."""
    with _lock:
        _faults.clear()


def calls() -> Counter[tuple[str, str]]:
    """A copy of the per-(service, operation) count of AWS requests received since the reset."""
    with _lock:
        return Counter(_calls)


def reset_calls() -> None:
    """Set every call count back to zero."""
    with _lock:
        _calls.clear()


def _take_fault(key: tuple[str, str]) -> _Fault | None:
    # Caller holds _lock. The exact operation wins over the service-wide wildcard.
    for lookup in (key, (key[0], WILDCARD)):
        queue = _faults.get(lookup)
        if not queue:
            continue
        fault = queue[0]
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
        return fault
    return None


def _error_response(response: BaseResponse, code: str, message: str, status: int) -> TYPE_RESPONSE:
    # moto's serializer renders the error in the service's own protocol (JSON, query XML,
    # CBOR) and sets X-Amzn-ErrorType; only the status is ours to choose.
    if code not in moto_errors.COMMON_ERROR_CODES:
        # moto warns about codes its service models don't list; ours are deliberate.
        moto_errors.COMMON_ERROR_CODES.append(code)
    _, headers, body = response.serialized(ActionResult(InjectedError(code, message)))
    headers["status"] = str(status)
    return status, headers, body


def _extension_operations() -> frozenset[tuple[str, str]]:
    # Computed at the first request: every extension is installed by then.
    if _settings["extension_ops"] is None:
        _settings["extension_ops"] = extension_operations()
    return _settings["extension_ops"]  # type: ignore[no-any-return]


# Protocols whose bodies strict mode checks: JSON, and rest-json where every member of the
# request and answer travels in the body (savingsplans), which is then the same JSON document.
_CHECKED_PROTOCOLS = ("json", "rest-json")


def _json_protocol(service: str) -> bool:
    from ..shapes import service_model

    try:
        return service_model(service).protocol in _CHECKED_PROTOCOLS
    except UnknownServiceError:  # e.g. moto's own "moto-api"
        return False


def _body_only(shape: Any) -> bool:
    return shape is None or all(not member.serialization.get("location") for member in shape.members.values())


def _validate(service: str, operation: str, document: object, *, output: bool) -> list[str]:
    """shapes.validate_output / validate_input, also for rest-json operations whose members all
    live in the body (shapes.py checks the JSON protocol only); ValueError for other rest-json."""
    from .. import shapes

    model = shapes.operation_model(service, operation)
    if model.metadata.get("protocol") != "rest-json":
        check = shapes.validate_output if output else shapes.validate_input
        return check(service, operation, document)
    shape = model.output_shape if output else model.input_shape
    if not _body_only(shape):
        raise ValueError(f"{service}:{operation} sends members outside the body")
    errors: list[str] = []
    if shape is not None:
        shapes._check(shape, document, "$", errors)
    return errors


def _json_body(raw: object) -> object:
    text = raw.decode() if isinstance(raw, bytes) else str(raw or "")
    return json.loads(text) if text.strip() else {}


def _invalid_request(self: BaseResponse, key: tuple[str, str]) -> TYPE_RESPONSE | None:
    try:
        problems = _validate(key[0], key[1], _json_body(self.body), output=False)
    except (ValueError, LookupError):  # not JSON, or not an operation botocore knows
        return None
    if not problems:
        return None
    log.warning("embedded AWS: invalid %s:%s request: %s", key[0], key[1], "; ".join(problems))
    return _error_response(
        self, _validation_code(key), f"{key[0]}:{key[1]} request: " + "; ".join(problems), 400
    )


# The error code of a request that breaks the input shape: the operation's own modelled
# validation error where it has one (the Price List API and Budgets model
# InvalidParameterException), else ValidationException, which SageMaker answers unmodelled.
# Which code each service really sends for an enum violation is not in the models (unsure).
_VALIDATION_CODES = ("ValidationException", "InvalidParameterException", "InvalidParameterValueException")


def _validation_code(key: tuple[str, str]) -> str:
    from ..shapes import operation_model

    modelled = {shape.name for shape in operation_model(*key).error_shapes}
    return next((code for code in _VALIDATION_CODES if code in modelled), "ValidationException")


def _malformed_answer(self: BaseResponse, key: tuple[str, str], result: TYPE_RESPONSE) -> TYPE_RESPONSE:
    status, _, body = result
    if not 200 <= int(status) < 300:
        return result
    try:
        problems = _validate(key[0], key[1], _json_body(body), output=True)
    except ValueError as error:  # not JSON at all
        problems = [f"the body is not JSON: {error}"]
    if not problems:
        return result
    found = ShapeError(key[0], key[1], tuple(problems))
    with _lock:
        _shape_errors.append(found)
    log.error("embedded AWS answered a malformed %s", found)
    # 501: botocore retries 500 but not 501, so the caller fails at once with the message.
    return _error_response(
        self,
        "InternalFailure",
        f"The embedded AWS's answer does not match botocore's output shape of {found}",
        501,
    )


def _call_action(self: BaseResponse) -> TYPE_RESPONSE:
    key = (self.boto3_service_name, self._get_action() or "")
    from_operator = OPERATOR_USER_AGENT in str(self.headers.get("User-Agent", ""))
    with _lock:
        _calls[key] += 1
        if from_operator:
            _operator_ops.add(key)
        fault = _take_fault(key)
    if fault is not None:
        return _error_response(self, fault.code, fault.message, fault.status)
    checked = strict() and _json_protocol(key[0])
    if checked:
        refused = _invalid_request(self, key)
        if refused is not None:
            return refused
    try:
        result: TYPE_RESPONSE = original(BaseResponse, "call_action")(self)
    except NotImplementedError:
        # moto answers an unimplemented operation with HTTP 500, which botocore retries
        # (slowly) before failing with an HTML body. 501 is not retried and says what is missing.
        return _error_response(
            self,
            "InternalFailure",
            f"The embedded AWS (moto {moto.__version__}) does not implement "
            f"{key[0]}:{key[1]}; add it under mlcost/embedded/moto_ext",
            501,
        )
    if checked and key in _extension_operations():
        return _malformed_answer(self, key, result)
    return result


# SigV4 signing names that differ from the boto3 client name, for services moto lacks.
_SIGNING_TO_CLIENT = {"monitoring": "cloudwatch", "tagging": "resourcegroupstaggingapi"}


def _unknown_service_call(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, operation) of a request moto has no backend for, from headers, query, path."""
    service = "unknown"
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = _SIGNING_TO_CLIENT.get(scope[3], scope[3])
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action", [""])[0]
    return service, action or environ.get("PATH_INFO", "").rsplit("/", 1)[-1]


def _dispatch_app(
    self: DomainDispatcherApplication,
    environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> Iterable[bytes]:
    delay = float(_settings["latency"])
    if delay and not str(environ.get("PATH_INFO", "")).startswith(_CONTROL_PREFIX):
        time.sleep(delay)
    try:
        app = self.get_application(environ)
    except Exception:  # moto has no backend for the service at all
        service, operation = _unknown_service_call(environ)
        with _lock:
            _calls[(service, operation)] += 1
            if OPERATOR_USER_AGENT in str(environ.get("HTTP_USER_AGENT", "")):
                _operator_ops.add((service, operation))
        body = json.dumps(
            {
                "__type": "InternalFailure",
                "message": f"The embedded AWS (moto {moto.__version__}) has no {service} "
                f"service ({operation}); add it under mlcost/embedded/moto_ext",
            }
        ).encode()
        # 501, unlike moto's 500, is not retried by botocore.
        start_response(
            "501 Not Implemented",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amzn-ErrorType", "InternalFailure"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]
    return app(environ, start_response)


def _reset(self: MotoAPIBackend) -> None:
    # POST /moto-api/reset must leave no fault armed and no count from the previous test.
    original(MotoAPIBackend, "reset")(self)
    for callback in reset_callbacks():  # extensions of services moto lacks
        callback()
    clear_faults()
    reset_calls()


def install() -> None:
    """Route every moto request through the call counter and the fault registry."""
    patch(BaseResponse, "call_action", _call_action)
    patch(MotoAPIBackend, "reset", _reset)
    patch(DomainDispatcherApplication, "__call__", _dispatch_app)
