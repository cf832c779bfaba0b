"""Map botocore failures to the domain's errors, so no other layer needs to know botocore."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from mlcost.domain.errors import (
    AccessDenied,
    AwsUnavailable,
    Conflict,
    InvalidSpec,
    MlcostError,
    NotFound,
    Throttled,
)

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "LimitExceededException",
        "SlowDown",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
NOT_FOUND_CODES = frozenset({"NotFoundException", "ResourceNotFound", "ResourceNotFoundException"})
CONFLICT_CODES = frozenset({"DuplicateRecordException", "ResourceInUse", "ConflictException"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def translate(exc: Exception, operation: str) -> MlcostError:
    """The domain error for a botocore exception raised by `operation`."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        text = exc.response.get("Error", {}).get("Message", "") or str(exc)
        message = f"{operation}: {code}: {text}"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        if code in THROTTLING_CODES:
            return Throttled(f"{message} (still throttled after retries with backoff)", operation=operation)
        if code in ACCESS_DENIED_CODES:
            return AccessDenied(
                f"{message}. Grant the operator's IAM role this permission "
                "(deploy/iam-policy.json lists every permission it needs).",
                operation=operation,
            )
        if code in NOT_FOUND_CODES:
            return NotFound(message, operation=operation)
        if code in CONFLICT_CODES:
            return Conflict(message, operation=operation)
        if status >= 500:
            return AwsUnavailable(message, operation=operation)
        return InvalidSpec(f"AWS rejected {message}", operation=operation)
    if isinstance(exc, NoCredentialsError):
        return AccessDenied(
            f"{operation}: no AWS credentials found: give the operator an IAM role (IRSA) or "
            "set AWS credentials in its environment",
            operation=operation,
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return AwsUnavailable(f"{operation}: AWS unreachable: {exc}", operation=operation)
    if isinstance(exc, BotoCoreError):
        return AwsUnavailable(f"{operation}: {exc}", operation=operation)
    raise exc


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    """Run AWS calls, raising domain errors instead of botocore's."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, operation) from exc


# SageMaker and Application Auto Scaling answer ValidationException, not a "not found" code,
# for most missing resources: these words in the message mean the resource is gone.
SAGEMAKER_GONE_HINTS = ("does not exist", "could not find", "not found", "cannot find")


@contextmanager
def aws_call_or_gone(operation: str, gone_hints: tuple[str, ...] = SAGEMAKER_GONE_HINTS) -> Iterator[None]:
    """aws_call, raising NotFound for a rejection whose message says the resource is gone."""
    try:
        with aws_call(operation):
            yield
    except InvalidSpec as exc:
        if any(hint in exc.message.lower() for hint in gone_hints):
            raise NotFound(exc.message, operation=exc.operation) from exc
        raise
