"""Fixtures for reconcile tests: the real reconcile core against the embedded AWS on loopback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec
from mlcost.aws.session import AwsSessions, CountingRecorder
from mlcost.domain.spend import SpendCache
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.policy import PolicyReconciler
from tests.conftest import client_of

READ_ONLY_PREFIXES = ("Describe", "List", "Get")


@dataclass
class Clock:
    """A settable clock; it starts at the real present because AWS refuses past forecasts."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def aws(embedded_aws: EmbeddedAws) -> EmbeddedAws:
    embedded_aws.reset()
    return embedded_aws


def embedded_sessions(
    endpoint_url: str, *, max_attempts: int = 5, recorder: CountingRecorder | None = None
) -> AwsSessions:
    """The operator's AWS sessions against the embedded AWS, with short timeouts for tests."""
    return AwsSessions(
        default_region="us-east-1",
        endpoint_url=endpoint_url,
        max_attempts=max_attempts,
        recorder=recorder or CountingRecorder(),
        base_session=boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ),
        connect_timeout=1,
        read_timeout=5,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


ReconcilerFactory = Callable[..., PolicyReconciler]


@pytest.fixture
def make_reconciler(aws: EmbeddedAws, clock: Clock) -> ReconcilerFactory:
    """make_reconciler(max_attempts=5, endpoint_url=None, cache=None) -> a PolicyReconciler."""

    def make(
        *,
        max_attempts: int = 5,
        endpoint_url: str | None = None,
        cache: SpendCache | None = None,
        recorder: CountingRecorder | None = None,
        inventory_max_age: timedelta = timedelta(minutes=2),
    ) -> PolicyReconciler:
        sessions = embedded_sessions(
            endpoint_url or aws.endpoint_url, max_attempts=max_attempts, recorder=recorder
        )
        return PolicyReconciler(
            sessions,
            cache or SpendCache(timedelta(hours=1)),
            clock=clock,
            inventory_max_age=inventory_max_age,
        )

    return make


@pytest.fixture
def reconciler(make_reconciler: ReconcilerFactory) -> PolicyReconciler:
    return make_reconciler()


@pytest.fixture
def budgets_api(aws: EmbeddedAws) -> Any:
    """A plain boto3 Budgets client: the console or CLI of someone other than the operator."""
    return client_of(aws, "budgets")


def mutating_calls(aws: EmbeddedAws) -> dict[tuple[str, str], int]:
    return {
        key: count
        for key, count in aws.calls().items()
        if not key[1].startswith(READ_ONLY_PREFIXES) and key[0] != "sts"
    }


def policy_spec(**budget: Any) -> MLCostPolicySpec:
    raw: dict[str, Any] = {
        "limit": "5000",
        "costFilters": {"services": ["Amazon SageMaker"], "tags": {"team": ["fraud"]}},
        "notifications": [
            {"type": "ACTUAL", "threshold": "80", "emails": ["ml-leads@example.com"]},
            {
                "type": "FORECASTED",
                "threshold": "100",
                "emails": ["ml-leads@example.com"],
                "snsTopicArn": "arn:aws:sns:us-east-1:123456789012:ml-cost",
            },
        ],
    }
    raw.update(budget)
    return MLCostPolicySpec.model_validate({"budget": raw})
