"""Failures the planning and reconcile layers understand, independent of any AWS SDK."""

from __future__ import annotations


class MlcostError(Exception):
    """Base of every error the operator reports; `reason` becomes a condition reason."""

    reason = "Error"
    # Whether the same call may succeed later without anyone changing the spec.
    transient = False

    def __init__(self, message: str, *, operation: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation


class InvalidSpec(MlcostError):
    """The spec is well-formed but cannot be done (AWS rejected it or it breaks an AWS rule)."""

    reason = "InvalidSpec"


class AccessDenied(MlcostError):
    """The operator's (or the assumed role's) IAM policy does not allow a call."""

    reason = "AccessDenied"


class Throttled(MlcostError):
    """AWS kept throttling after the client's retries with backoff."""

    reason = "Throttled"
    transient = True


class AwsUnavailable(MlcostError):
    """AWS could not be reached or answered with a server error."""

    reason = "AwsUnavailable"
    transient = True


class NotFound(MlcostError):
    """The AWS resource does not exist (any more)."""

    reason = "NotFound"


class Conflict(MlcostError):
    """AWS holds a resource of that name already, or it changed under us."""

    reason = "Conflict"
    transient = True


class CostDataUnavailable(MlcostError):
    """Cost Explorer has no data for the question yet (DataUnavailableException).

    A new account, Cost Explorer enabled less than a day ago, or a Savings Plans read for a
    period without active plans: asking again later may succeed.
    """

    reason = "CostDataUnavailable"
    transient = True


class BillExpired(MlcostError):
    """The period asked is older than Cost Explorer keeps (BillExpirationException)."""

    reason = "BillExpired"
