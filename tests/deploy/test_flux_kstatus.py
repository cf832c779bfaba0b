"""Flux reads our objects' health by kstatus: the statuses the operator writes must say the right thing.

Flux's kustomize-controller health-checks custom resources (`wait: true` or `healthChecks`) with
kstatus (fluxcd/kustomize-controller docs/spec/v1/kustomizations.md, "Health checks": "Custom
resources that are compatible with kstatus"). kstatus_of() below implements kstatus's rules for a
kind it has no built-in rule for, from kubernetes-sigs/cli-utils pkg/kstatus:
  status/generic.go checkGenericProperties / checkGeneration:
    metadata.deletionTimestamp set                    -> Terminating
    status.observedGeneration present, != generation  -> InProgress (LatestGenerationNotObserved)
    a condition Reconciling=True                      -> InProgress
    a condition Stalled=True                          -> Failed
  status/status.go Compute: no type-specific rule for custom kinds, then README.md "The Ready
  Condition": Ready=True -> Current, Ready=False (or Unknown) -> InProgress;
  nothing of the above                                -> Current ("Resource is current").
(Flux runs kstatus from its fork, github.com/fluxcd/cli-utils; that it reads Ready this way is what
fluxcd/flux2#1254 and kedacore/http-add-on#1390 report: Ready=False or Unknown shows as InProgress.)
So Flux sees a policy Current only when its Ready condition is True for its current generation;
that is what these tests hold the operator's real statuses to.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mlcost.api.common import ConditionStatus
from mlcost.api.v1alpha1.endpointrightsizing import EndpointRightsizingStatus
from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicyStatus
from mlcost.domain import conditions as cond
from mlcost.domain.spend import SpendCache
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.policy import PolicyReconciler
from mlcost.reconcile.results import ObjectRef
from tests.conftest import client_of
from tests.reconcile.conftest import embedded_sessions, policy_spec
from tests.reconcile.test_budget_lifecycle import create_foreign_budget

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CURRENT, IN_PROGRESS, FAILED, TERMINATING = "Current", "InProgress", "Failed", "Terminating"


def kstatus_of(obj: dict[str, Any]) -> tuple[str, str]:
    """kstatus's (status, reason or message) for a custom resource; see the module docstring."""
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return TERMINATING, "Resource scheduled for deletion"
    status = obj.get("status") or {}
    generation = meta.get("generation")
    if generation is not None and "observedGeneration" in status:
        observed = status["observedGeneration"]
        # unstructured.NestedInt64: anything but an integer is an error, not a generation.
        assert isinstance(observed, int) and not isinstance(observed, bool), (
            f"observedGeneration {observed!r}"
        )
        if observed != generation:
            return IN_PROGRESS, "LatestGenerationNotObserved"
    conditions = status.get("conditions") or []
    for c in conditions:
        if c["type"] == "Reconciling" and c["status"] == "True":
            return IN_PROGRESS, c.get("reason", "")
        if c["type"] == "Stalled" and c["status"] == "True":
            return FAILED, c.get("reason", "")
    for c in conditions:
        if c["type"] == "Ready":
            return (CURRENT if c["status"] == "True" else IN_PROGRESS), c.get("reason", "")
    return CURRENT, "Resource is current"


def obj_of(kind: str, status: dict[str, Any] | None, generation: int = 2, **meta: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "mlcost.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "fraud", "namespace": "team-fraud", "generation": generation, **meta},
        "spec": {},
    }
    if status is not None:
        obj["status"] = status
    return obj


def reconcile_policy(
    aws: EmbeddedAws, generation: int = 2, endpoint_url: str | None = None
) -> dict[str, Any]:
    """The status PolicyReconciler writes for a budget policy, as the API server stores it."""
    sessions = embedded_sessions(endpoint_url or aws.endpoint_url, max_attempts=1)
    reconciler = PolicyReconciler(sessions, SpendCache(timedelta(hours=1)))
    ref = ObjectRef("team-fraud", "fraud", generation=generation)
    return reconciler.reconcile(ref, policy_spec(), None).status.to_api()


@pytest.fixture
def aws(embedded_aws: EmbeddedAws) -> EmbeddedAws:
    embedded_aws.reset()
    return embedded_aws


def test_a_reconciled_policy_is_current_only_for_its_own_generation(aws: EmbeddedAws) -> None:
    status = reconcile_policy(aws, generation=2)
    assert status["observedGeneration"] == 2
    assert kstatus_of(obj_of("MLCostPolicy", status, generation=2)) == (CURRENT, "Reconciled")
    # The spec was edited (generation 3) and the operator has not reconciled it yet.
    assert kstatus_of(obj_of("MLCostPolicy", status, generation=3)) == (
        IN_PROGRESS,
        "LatestGenerationNotObserved",
    )


def test_a_policy_aws_cannot_serve_is_not_current(aws: EmbeddedAws) -> None:
    status = reconcile_policy(aws, endpoint_url="http://127.0.0.1:9")  # nothing listens there
    assert kstatus_of(obj_of("MLCostPolicy", status)) == (IN_PROGRESS, "AwsUnavailable")


def test_a_policy_blocked_by_a_foreign_budget_is_not_current(aws: EmbeddedAws) -> None:
    create_foreign_budget(client_of(aws, "budgets"), "team-fraud-fraud")
    status = reconcile_policy(aws)
    assert kstatus_of(obj_of("MLCostPolicy", status)) == (IN_PROGRESS, "BudgetNotOwned")


def test_no_condition_of_ours_is_read_by_kstatus_as_something_else(aws: EmbeddedAws) -> None:
    # kstatus gives Reconciling and Stalled fixed meanings (abnormal-true). A condition of ours by
    # those names would override Ready; today the operator sets neither.
    statuses = [reconcile_policy(aws), reconcile_policy(aws, endpoint_url="http://127.0.0.1:9")]
    types = {c["type"] for s in statuses for c in s["conditions"]}
    assert cond.READY in types and not types & {"Reconciling", "Stalled"}, types


@pytest.mark.parametrize(
    ("ready", "reason", "expected"),
    [
        (True, "Recommended", CURRENT),
        (True, "InsufficientData", CURRENT),  # nothing to change: the operator did its job
        (False, "EndpointNotFound", IN_PROGRESS),
        (False, "AccessDenied", IN_PROGRESS),
        (ConditionStatus.UNKNOWN, "Throttled", IN_PROGRESS),
    ],
)
def test_rightsizing_statuses_from_the_model(
    ready: bool | ConditionStatus, reason: str, expected: str
) -> None:
    status = EndpointRightsizingStatus(observed_generation=4)
    cond.set_on(status, cond.READY, ready, reason, "why", now=NOW, generation=4)
    cond.set_on(status, "Synced", ready, reason, "why", now=NOW, generation=4)
    assert kstatus_of(obj_of("EndpointRightsizing", status.to_api(), generation=4)) == (expected, reason)
    assert kstatus_of(obj_of("EndpointRightsizing", status.to_api(), generation=5))[0] == IN_PROGRESS


def test_an_invalid_spec_is_not_current_and_a_deleted_object_is_terminating() -> None:
    # What the change handler writes for a spec the models reject (handlers/objects.py).
    status = MLCostPolicyStatus(observed_generation=7)
    cond.set_on(status, cond.READY, False, "InvalidSpec", "spec.budget.limit: ...", now=NOW, generation=7)
    assert kstatus_of(obj_of("MLCostPolicy", status.to_api(), generation=7)) == (IN_PROGRESS, "InvalidSpec")
    deleting = obj_of("MLCostPolicy", status.to_api(), generation=7, deletionTimestamp="2026-03-01T12:00:00Z")
    assert kstatus_of(deleting)[0] == TERMINATING
