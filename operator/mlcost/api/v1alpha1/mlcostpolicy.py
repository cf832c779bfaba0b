"""MLCostPolicy: one team's cost governance (budget, tags, guardrails, breach actions)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator, model_validator

from mlcost.api.common import CONDITIONS_LIST_MAP, AwsTarget, Condition, ObjectMeta
from mlcost.api.hours import WeeklyHours
from mlcost.api.types import (
    MIN_1M_DURATION_PATTERN,
    POSITIVE_DECIMAL_PATTERN,
    ApiModel,
    Duration,
    Money,
    Percent,
)

ACTIVE_HOURS_PATTERN = (
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))? "
    r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$"
)
BUDGET_NAME_PATTERN = r"^[^:\\]{1,100}$"
SNS_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class PolicyMode(StrEnum):
    AUDIT = "Audit"
    ENFORCE = "Enforce"


class Scope(ApiModel):
    """Which SageMaker resources the rules govern: all tags match, or a name prefix matches."""

    tags: dict[str, str] = Field(
        default_factory=dict,
        description="A resource is in scope when it carries all of these tag values.",
    )
    name_prefixes: list[str] = Field(
        default_factory=list,
        description="A resource is in scope when its name starts with one of these.",
    )


class TimeUnit(StrEnum):
    DAILY = "DAILY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    ANNUALLY = "ANNUALLY"


class CostFilters(ApiModel):
    """Which costs count against the budget."""

    services: list[str] = Field(
        default_factory=list,
        description='AWS service names as Cost Explorer spells them, e.g. "Amazon SageMaker".',
    )
    tags: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Cost-allocation tag key -> values; the tag must be active in Billing.",
    )


class NotificationType(StrEnum):
    ACTUAL = "ACTUAL"
    FORECASTED = "FORECASTED"


class ComparisonOperator(StrEnum):
    GREATER_THAN = "GREATER_THAN"
    LESS_THAN = "LESS_THAN"
    EQUAL_TO = "EQUAL_TO"


class ThresholdType(StrEnum):
    PERCENTAGE = "PERCENTAGE"
    ABSOLUTE_VALUE = "ABSOLUTE_VALUE"


class BudgetNotification(ApiModel):
    """One budget alert and who receives it (at least one email or an SNS topic)."""

    # The subscriber rule spans two fields, so the CRD needs CEL for it (see _has_subscriber).
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "(has(self.emails) && size(self.emails) > 0) || has(self.snsTopicArn)",
                    "message": "a notification needs at least one of emails or snsTopicArn",
                }
            ]
        }
    )

    type: NotificationType = Field(description="ACTUAL or FORECASTED spend.")
    comparison: ComparisonOperator = Field(
        default=ComparisonOperator.GREATER_THAN,
        description="GREATER_THAN (default), LESS_THAN or EQUAL_TO.",
    )
    threshold: Percent = Field(
        description="Percent of the limit (PERCENTAGE) or dollars (ABSOLUTE_VALUE); above 0.",
        json_schema_extra={"pattern": POSITIVE_DECIMAL_PATTERN},
    )
    threshold_type: ThresholdType = Field(
        default=ThresholdType.PERCENTAGE,
        description="PERCENTAGE (default) or ABSOLUTE_VALUE.",
    )
    emails: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Email subscribers, at most 10.",
        json_schema_extra={"items": {"type": "string", "pattern": EMAIL_PATTERN}},
    )
    sns_topic_arn: str | None = Field(
        default=None,
        pattern=SNS_ARN_PATTERN,
        description="SNS topic subscriber, in the budget's account; at most one.",
    )

    @field_validator("emails")
    @classmethod
    def _emails_look_like_emails(cls, emails: list[str]) -> list[str]:
        for email in emails:
            if not re.fullmatch(EMAIL_PATTERN, email):
                raise ValueError(f'"{email}" is not an email address')
        return emails

    @field_validator("threshold")
    @classmethod
    def _threshold_positive(cls, threshold: Decimal) -> Decimal:
        if threshold <= 0:
            raise ValueError("must be greater than 0")
        return threshold

    @model_validator(mode="after")
    def _has_subscriber(self) -> BudgetNotification:
        if not self.emails and not self.sns_topic_arn:
            raise ValueError("a notification needs at least one of emails or snsTopicArn")
        return self


class DeletionPolicy(StrEnum):
    DELETE = "Delete"
    RETAIN = "Retain"


class BudgetSpec(ApiModel):
    """An AWS Budget owned by this policy."""

    # A transition rule (oldSelf) on the budget object: the API server refuses a rename that the
    # operator could only carry out by orphaning the old budget. It cannot be a field validator:
    # the model never sees the previous version of the object.
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(oldSelf.name) || (has(self.name) && self.name == oldSelf.name)",
                    "message": ("budget.name is immutable once set: create a new policy to rename a budget"),
                    "fieldPath": ".name",
                },
                {
                    # AWS Budgets has no forecast for a daily budget: the API server refuses the
                    # spec, as `mlcost validate` and the operator's check do.
                    "rule": (
                        "!has(self.timeUnit) || self.timeUnit != 'DAILY' || !has(self.notifications) "
                        "|| self.notifications.all(n, n.type != 'FORECASTED')"
                    ),
                    "message": (
                        "FORECASTED notifications need a budget longer than DAILY: AWS Budgets does "
                        "not forecast daily budgets"
                    ),
                    "fieldPath": ".notifications",
                },
            ]
        }
    )

    name: str | None = Field(
        default=None,
        pattern=BUDGET_NAME_PATTERN,
        # The pattern's own bound, stated so that the CEL cost estimate of the rule above is small.
        json_schema_extra={"maxLength": 100},
        description=(
            'Budget name in AWS. Default "<namespace>-<name>". Immutable once set: '
            "renaming would orphan the old budget."
        ),
    )
    limit: Money = Field(
        description="USD per timeUnit, above 0.",
        json_schema_extra={"pattern": POSITIVE_DECIMAL_PATTERN},
    )
    time_unit: TimeUnit = Field(
        default=TimeUnit.MONTHLY, description="DAILY, MONTHLY (default), QUARTERLY or ANNUALLY."
    )
    cost_filters: CostFilters | None = Field(
        default=None, description="Which costs count; default: all costs of the account."
    )
    notifications: list[BudgetNotification] = Field(
        default_factory=list, max_length=5, description="Alerts, at most 5."
    )
    adopt: bool = Field(
        default=False,
        description="Take over an existing budget of that name that the operator did not create.",
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete (default) removes the budget with the policy; Retain leaves it.",
    )

    @field_validator("limit")
    @classmethod
    def _limit_positive(cls, limit: Decimal) -> Decimal:
        if limit <= 0:
            raise ValueError("must be greater than 0")
        return limit

    @model_validator(mode="after")
    def _forecast_needs_a_period(self) -> BudgetSpec:
        # AWS Budgets forecasts only MONTHLY, QUARTERLY and ANNUALLY budgets (user guide,
        # "Creating a cost budget"); docs/aws-behaviour.md.
        if self.time_unit is TimeUnit.DAILY:
            for index, notification in enumerate(self.notifications):
                if notification.type is NotificationType.FORECASTED:
                    raise ValueError(
                        f"notifications[{index}] is FORECASTED, but AWS Budgets does not forecast "
                        "DAILY budgets: use type ACTUAL, or timeUnit MONTHLY, QUARTERLY or ANNUALLY"
                    )
        return self

    @model_validator(mode="after")
    def _subscribers_fit_after_merging(self) -> BudgetSpec:
        # Entries with one trigger are one notification in AWS, whose limit is 1 SNS topic and
        # 10 emails (Notification shape doc): count them merged, as the operator will send them.
        merged: dict[tuple[str, str, Decimal, str], tuple[list[int], set[str], set[str]]] = {}
        for index, n in enumerate(self.notifications):
            key = (n.type.value, n.comparison.value, n.threshold, n.threshold_type.value)
            entries, emails, topics = merged.setdefault(key, ([], set(), set()))
            entries.append(index)
            emails.update(n.emails)
            topics.update([n.sns_topic_arn] if n.sns_topic_arn else [])
        for (kind, comparison, threshold, _), (entries, emails, topics) in merged.items():
            if len(emails) <= 10 and len(topics) <= 1:
                continue
            where = ", ".join(f"notifications[{i}]" for i in entries)
            raise ValueError(
                f"{where} share the trigger {kind} {comparison} {threshold} and become one AWS "
                f"notification with {len(emails)} email(s) and {len(topics)} SNS topic(s); AWS allows "
                "at most 10 emails and 1 SNS topic per notification: merge them into one entry "
                "within that limit, or give them different thresholds"
            )
        return self


class ResourceType(StrEnum):
    ENDPOINT = "Endpoint"
    NOTEBOOK_INSTANCE = "NotebookInstance"
    TRAINING_JOB = "TrainingJob"


class TagRequirement(ApiModel):
    """A tag every governed resource must carry."""

    key: str = Field(min_length=1, max_length=128, description="Tag key.")
    allowed_values: list[str] = Field(
        default_factory=list, description="If set, the value must be one of these."
    )
    pattern: str | None = Field(
        default=None, description="If set, the value must match this regular expression."
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression: {exc}") from exc
        return pattern


class TaggingRules(ApiModel):
    """Cost-allocation tags the team's resources must carry."""

    resource_types: list[ResourceType] = Field(
        default_factory=lambda: list(ResourceType),
        description="Resource types checked; default Endpoint, NotebookInstance, TrainingJob.",
    )
    required: list[TagRequirement] = Field(default_factory=list, description="Required tags.")
    defaults: dict[str, str] = Field(
        default_factory=dict,
        description="Enforce mode adds these tags where missing; wrong values are only reported.",
    )

    @model_validator(mode="after")
    def _defaults_satisfy_requirements(self) -> TaggingRules:
        # A default that breaks its own requirement would be added and reported at once.
        seen: set[str] = set()
        for index, requirement in enumerate(self.required):
            if requirement.key in seen:
                raise ValueError(f'required[{index}]: tag "{requirement.key}" is required twice')
            seen.add(requirement.key)
            value = self.defaults.get(requirement.key)
            if value is None:
                continue
            if requirement.allowed_values and value not in requirement.allowed_values:
                raise ValueError(
                    f'defaults.{requirement.key}: "{value}" is not among required[{index}].allowedValues'
                )
            if requirement.pattern and not re.search(requirement.pattern, value):
                raise ValueError(
                    f'defaults.{requirement.key}: "{value}" does not match required[{index}].pattern'
                )
        return self


class NotebookSchedule(ApiModel):
    """Hours in which notebooks may run; outside them they are stopped."""

    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Berlin.")
    active_hours: str = Field(
        pattern=ACTIVE_HOURS_PATTERN,
        description='Days and hours, e.g. "Mon-Fri 07:00-20:00".',
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f'"{timezone}" is not an IANA time zone such as Europe/Berlin') from exc
        return timezone

    @field_validator("active_hours")
    @classmethod
    def _hours_make_sense(cls, active_hours: str) -> str:
        WeeklyHours.parse(active_hours)
        return active_hours


class NotebookRules(ApiModel):
    """Guardrails on notebook instances."""

    allowed_instance_types: list[str] = Field(
        default_factory=list, description="If set, other instance types are violations."
    )
    max_uptime: Duration | None = Field(
        default=None, description="Stop an InService notebook running longer than this."
    )
    schedule: NotebookSchedule | None = Field(default=None, description="Stop notebooks outside these hours.")


class TrainingRules(ApiModel):
    """Guardrails on training jobs."""

    require_managed_spot: bool = Field(
        default=False, description="Training jobs must use Managed Spot Training."
    )
    max_runtime: Duration | None = Field(
        default=None,
        description="StoppingCondition.MaxRuntimeInSeconds may not exceed this.",
    )
    allowed_instance_types: list[str] = Field(
        default_factory=list, description="If set, other instance types are violations."
    )


class IdleAction(StrEnum):
    REPORT = "Report"
    DELETE = "Delete"


class IdleRule(ApiModel):
    """When an endpoint counts as idle and what happens to it."""

    window: Duration = Field(default=timedelta(days=7), description="Look-back window (default 7d).")
    max_invocations: int = Field(
        default=0, ge=0, description="At most this many invocations in the window = idle."
    )
    action: IdleAction = Field(
        default=IdleAction.REPORT,
        description=(
            "Report (default) or Delete (Enforce mode only; keeps the EndpointConfig "
            "so the endpoint can be re-created)."
        ),
    )


class EndpointRules(ApiModel):
    """Guardrails on real-time inference endpoints."""

    allowed_instance_types: list[str] = Field(
        default_factory=list, description="If set, other instance types are violations."
    )
    idle: IdleRule | None = Field(default=None, description="Idle endpoint detection.")


class BreachAction(ApiModel):
    """What Enforce mode does when ACTUAL spend reaches a share of the budget limit."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "(has(self.stopNotebooks) && self.stopNotebooks) || "
                    "(has(self.stopTrainingJobs) && self.stopTrainingJobs)",
                    "message": "a breach action needs stopNotebooks or stopTrainingJobs set to true",
                }
            ]
        }
    )

    at_percent: Percent = Field(
        description="Share of the budget limit, in percent, above 0.",
        json_schema_extra={"pattern": POSITIVE_DECIMAL_PATTERN},
    )
    stop_notebooks: bool = Field(default=False, description="Stop the in-scope notebooks.")
    stop_training_jobs: bool = Field(default=False, description="Stop the in-scope training jobs.")

    @model_validator(mode="after")
    def _does_something(self) -> BreachAction:
        if not (self.stop_notebooks or self.stop_training_jobs):
            raise ValueError("a breach action needs stopNotebooks or stopTrainingJobs (or both) set to true")
        return self

    @field_validator("at_percent")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value


class Enforcement(ApiModel):
    """How carefully Enforce mode acts."""

    grace_period: Duration = Field(
        default=timedelta(hours=24),
        description="A violation is first marked (tag + Event) and acted on after this.",
    )
    max_actions_per_sweep: int = Field(
        default=20, ge=0, description="Never more mutating actions than this in one sweep."
    )


class MLCostPolicySpec(ApiModel):
    """Desired state of one team's cost governance."""

    mode: PolicyMode = Field(
        default=PolicyMode.AUDIT,
        description="Audit (default): observe and report only. Enforce: also act.",
    )
    resync_interval: Duration = Field(
        default=timedelta(minutes=10),
        description="How often AWS is re-read to correct drift (default 10m, at least 1m).",
        json_schema_extra={"pattern": MIN_1M_DURATION_PATTERN},
    )
    aws: AwsTarget | None = Field(default=None, description="AWS region and role to use.")
    scope: Scope | None = Field(default=None, description="The SageMaker resources governed.")
    budget: BudgetSpec | None = Field(default=None, description="An AWS Budget owned by this policy.")
    tagging: TaggingRules | None = Field(default=None, description="Required tags.")
    notebooks: NotebookRules | None = Field(default=None, description="Notebook guardrails.")
    training: TrainingRules | None = Field(default=None, description="Training job guardrails.")
    endpoints: EndpointRules | None = Field(default=None, description="Endpoint guardrails.")
    breach_actions: list[BreachAction] = Field(
        # Bounded: each item carries a CEL rule, whose cost the API server multiplies by the
        # largest number of items the list may hold.
        default_factory=list,
        max_length=10,
        description="Enforce mode: actions when spend crosses a threshold, at most 10.",
    )
    enforcement: Enforcement = Field(
        default_factory=Enforcement, description="Grace period and rate limit of Enforce mode."
    )

    @field_validator("resync_interval")
    @classmethod
    def _resync_at_least_a_minute(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("must be at least 1m")
        return value


class BudgetStatus(ApiModel):
    """The budget as last seen in AWS and Cost Explorer."""

    name: str | None = Field(default=None, description="Budget name in AWS.")
    arn: str | None = Field(default=None, description="Budget ARN.")
    limit: Money | None = Field(default=None, description="Limit in USD per timeUnit.")
    actual_spend: Money | None = Field(
        default=None, description="Spend so far in the current period (Cost Explorer)."
    )
    forecasted_spend: Money | None = Field(
        default=None, description="Forecast of the whole period's spend (Cost Explorer)."
    )
    utilization_percent: Percent | None = Field(
        default=None, description="actualSpend as a percentage of limit."
    )
    last_updated: datetime | None = Field(
        default=None, description="When the spend figures were last read from Cost Explorer."
    )


class CostKind(StrEnum):
    """What a compliance item's `cost` is: a monthly figure or a one-off sum."""

    MONTHLY = "Monthly"  # what a resource costs per month if it keeps running as it is now
    ONE_OFF = "OneOff"  # what a finished training job cost, once (billable seconds x price)


class ComplianceItem(ApiModel):
    """One violation of one rule by one resource."""

    resource_type: ResourceType = Field(description="Endpoint, NotebookInstance or TrainingJob.")
    name: str = Field(description="Resource name.")
    rule: str = Field(description="Rule broken, e.g. MissingTag.")
    detail: str = Field(default="", description="What is wrong.")
    action: str | None = Field(
        default=None,
        description=(
            "What the operator did (Stopped, Deleted, TagAdded, Marked), will do (Pending, with "
            "the due time in pendingAction), or would do in Audit mode (WouldStop, WouldDelete, "
            "WouldTag)."
        ),
    )
    since: datetime | None = Field(default=None, description="When the violation was first seen.")
    monthly_cost: Money | None = Field(
        default=None, description="What the resource costs per month while running; absent if unknown."
    )
    cost_basis: str | None = Field(
        default=None,
        description=(
            "Which price monthlyCost and cost come from (instance type, region, source, as-of date; "
            "billable seconds for a finished training job); when the cost is unknown it starts with "
            '"unknown:" and says which price (instance type, usage, region) the price catalogue lacks '
            "and how to supply it."
        ),
    )
    pending_action: str | None = Field(default=None, description="What waits, and until when.")
    cost: Money | None = Field(
        default=None,
        description=(
            "USD the item is ranked by (items are listed most expensive first, unknown costs after every "
            "known one): per month for a running or stopped resource (then equal to monthlyCost), or "
            "once for a finished training job (its billable seconds x instance count x hourly price; "
            "Managed Spot jobs too). Absent when unknown: costBasis says why."
        ),
    )
    cost_kind: CostKind | None = Field(
        default=None,
        description=(
            "What cost is: Monthly (per month while the resource runs as it is now) or OneOff (what a "
            "finished training job cost). Set whether or not the amount is known."
        ),
    )


class ComplianceStatus(ApiModel):
    """Rule evaluation over the resources in scope."""

    evaluated: int = Field(default=0, description="Resources evaluated.")
    violations: int = Field(default=0, description="Violations found.")
    by_rule: dict[str, int] = Field(default_factory=dict, description="Violations per rule.")
    items: list[ComplianceItem] = Field(
        default_factory=list, max_length=50, description="At most 50, most expensive first."
    )
    governed: dict[str, int] | None = Field(default=None, description="Resources in scope per resource type.")
    idle_monthly_waste: Money | None = Field(
        default=None, description="USD per month spent on idle endpoints in scope (known prices only)."
    )
    spot_savings_percent: Percent | None = Field(
        default=None,
        description="Managed Spot savings of finished in-scope training jobs: 1 - billable / training time.",
    )
    spot_jobs: int | None = Field(
        default=None, description="Finished spot training jobs the savings are measured on."
    )
    actions: int | None = Field(default=None, description="Mutating actions taken in the last sweep.")


class MLCostPolicyStatus(ApiModel):
    """Observed state of the policy."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, BudgetSynced, Compliant.",
        json_schema_extra=CONDITIONS_LIST_MAP,
    )
    budget: BudgetStatus | None = Field(default=None, description="The budget and its spend.")
    compliance: ComplianceStatus | None = Field(default=None, description="Rule evaluation.")
    last_sweep: datetime | None = Field(default=None, description="When AWS was last read.")


class MLCostPolicy(ApiModel):
    """A whole MLCostPolicy object as written in a manifest."""

    model_config = {"extra": "ignore"}

    api_version: Literal["mlcost.io/v1alpha1"] = Field(
        default="mlcost.io/v1alpha1", description="mlcost.io/v1alpha1."
    )
    kind: Literal["MLCostPolicy"] = Field(default="MLCostPolicy", description="MLCostPolicy.")
    metadata: ObjectMeta = Field(description="Standard Kubernetes object metadata.")
    spec: MLCostPolicySpec = Field(description="Desired state of one team's cost governance.")
    status: MLCostPolicyStatus | None = Field(
        default=None, description="Observed state, written by the operator."
    )
