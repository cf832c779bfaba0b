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
    BillExpired,
    Conflict,
    CostDataUnavailable,
    InvalidSpec,
    MlcostError,
    NotFound,
    Throttled,
)
from mlcost.logs import summarise

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
# Codes that mean a quota, not a rate, per service: retrying does not help, raising the quota or
# using fewer resources does. The same code can mean either: Cost Explorer's
# LimitExceededException is "too many calls in a short period" (throttling), Application Auto
# Scaling's is "a per-account resource limit is exceeded" (botocore's error shapes of each).
QUOTA_CODES = {
    "application-autoscaling": frozenset({"LimitExceededException"}),
    "sagemaker": frozenset({"ResourceLimitExceeded"}),
}
NOT_FOUND_CODES = frozenset({"NotFoundException", "ResourceNotFound", "ResourceNotFoundException"})
CONFLICT_CODES = frozenset({"DuplicateRecordException", "ResourceInUse", "ConflictException"})

# Cost Explorer's modelled errors about the data asked for (botocore's ce model: "The requested
# data is unavailable", "The requested report expired. Update the date interval and try again").
COST_DATA_ERRORS: dict[str, tuple[type[MlcostError], str]] = {
    "DataUnavailableException": (
        CostDataUnavailable,
        "Cost Explorer has no data for this yet: it shows an account's costs up to 24 hours after "
        "Cost Explorer is enabled, and Savings Plans utilisation and coverage only for periods with "
        "active plans or usage; the question is asked again later.",
    ),
    "BillExpirationException": (
        BillExpired,
        "The period is older than the history Cost Explorer keeps (13 months unless multi-year "
        "data is enabled): ask for a more recent period.",
    ),
}


class QuotaExceeded(MlcostError):
    """An AWS service quota is reached (a resource limit of the account, not a request rate)."""

    reason = "QuotaExceeded"


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def translate(exc: Exception, operation: str) -> MlcostError:
    """The domain error for a botocore exception raised by `operation`."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        # A proxy or a 5xx can answer a whole HTML page: it reaches conditions and Events, so keep its words.
        text = summarise(exc.response.get("Error", {}).get("Message", "") or str(exc), 300)
        message = f"{operation}: {code}: {text}"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        service = operation.split(":", 1)[0]
        if code in QUOTA_CODES.get(service, ()):
            return QuotaExceeded(
                f"{message}. This is a service quota of the account, not throttling: raise it in "
                "Service Quotas or use fewer of these resources; retrying does not help.",
                operation=operation,
            )
        if code in THROTTLING_CODES:
            return Throttled(f"{message} (still throttled after retries with backoff)", operation=operation)
        if code in ACCESS_DENIED_CODES:
            return AccessDenied(
                f"{message}. Grant the operator's IAM role this permission "
                "(deploy/iam-policy.json lists every permission it needs).",
                operation=operation,
            )
        if code in COST_DATA_ERRORS:
            error_class, advice = COST_DATA_ERRORS[code]
            return error_class(f"{message}. {advice}", operation=operation)
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
