"""Savings Plans (the `savingsplans` API): the account's active SageMaker Savings Plans.

DescribeSavingsPlans is not a Cost Explorer read: it costs nothing per request, so it does not
count against the Cost Explorer bound.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mlcost.aws.errors import aws_call
from mlcost.domain.showback import SavingsPlan

__all__ = ["PAYMENT_OPTIONS", "SAGEMAKER_PLAN_TYPE", "SavingsPlansClient", "plan_of", "term_of"]

# savingsplans' SavingsPlanType value of SageMaker plans (botocore's savingsplans model).
SAGEMAKER_PLAN_TYPE = "SageMaker"
ACTIVE = "active"
# savingsplans spells payment options "No Upfront"; Cost Explorer "NO_UPFRONT" (both models).
PAYMENT_OPTIONS = {
    "No Upfront": "NO_UPFRONT",
    "Partial Upfront": "PARTIAL_UPFRONT",
    "All Upfront": "ALL_UPFRONT",
}
# Savings Plans are offered for 1 or 3 years: termDurationInSeconds 31536000 or 94608000
# (365 and 3 x 365 days, the durations DescribeSavingsPlansOfferings lists).
_TERMS = {31_536_000: "ONE_YEAR", 94_608_000: "THREE_YEARS"}
MAX_RESULTS = 1000  # DescribeSavingsPlans' MaxResults maximum (botocore's model)


def term_of(seconds: object) -> str:
    """ONE_YEAR / THREE_YEARS (Cost Explorer's TermInYears) of a plan's termDurationInSeconds."""
    try:
        value = int(str(seconds))
    except ValueError:
        return "unknown"
    return _TERMS.get(value, f"{value}s")


def _when(value: object) -> datetime:
    # DescribeSavingsPlans answers start and end as strings, e.g. "2026-01-15T10:21:04.000Z".
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def plan_of(raw: dict[str, Any]) -> SavingsPlan:
    """The domain's SavingsPlan of one DescribeSavingsPlans item."""
    try:
        commitment = Decimal(str(raw.get("commitment", "0")))
    except InvalidOperation:
        commitment = Decimal(0)
    payment = str(raw.get("paymentOption", ""))
    return SavingsPlan(
        plan_id=str(raw["savingsPlanId"]),
        arn=str(raw.get("savingsPlanArn", "")),
        commitment_per_hour=commitment,
        term=term_of(raw.get("termDurationInSeconds")),
        payment_option=PAYMENT_OPTIONS.get(payment, payment),
        start=_when(raw["start"]),
        end=_when(raw["end"]),
        state=str(raw.get("state", "")),
    )


class SavingsPlansClient:
    """Reads of the `savingsplans` API (the operator never buys, returns or deletes a plan)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def active_sagemaker_plans(self) -> list[SavingsPlan]:
        """The account's active SageMaker Savings Plans, ending soonest first (every page)."""
        # No savings-plan-type filter: how AWS spells its values is not documented, and a
        # wrong guess would hide every plan. An account holds few plans; their type is checked here.
        request: dict[str, Any] = {"states": [ACTIVE], "maxResults": MAX_RESULTS}
        plans: list[SavingsPlan] = []
        while True:
            with aws_call("savingsplans:DescribeSavingsPlans"):
                page = self._client.describe_savings_plans(**request)
            plans.extend(
                plan_of(raw)
                for raw in page.get("savingsPlans", [])
                if raw.get("savingsPlanType") == SAGEMAKER_PLAN_TYPE and raw.get("state") == ACTIVE
            )
            token = page.get("nextToken")
            if not token:
                break
            request["nextToken"] = token
        return sorted(plans, key=lambda plan: (plan.end, plan.plan_id))
