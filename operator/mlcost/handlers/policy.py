"""MLCostPolicy as the generic handlers see it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec, MLCostPolicyStatus
from mlcost.handlers.objects import Kind, ReconcileResult
from mlcost.handlers.runtime import Runtime
from mlcost.metrics import record_policy_result
from mlcost.reconcile.policy import PolicyResult
from mlcost.reconcile.results import ObjectRef, Outcome


def _reconcile(
    runtime: Runtime, ref: ObjectRef, spec: MLCostPolicySpec, previous: MLCostPolicyStatus | None
) -> PolicyResult:
    return runtime.policies.reconcile(ref, spec, previous)


def _finalize(
    runtime: Runtime, ref: ObjectRef, spec: MLCostPolicySpec, previous: MLCostPolicyStatus | None
) -> Outcome:
    return runtime.policies.finalize(ref, spec, previous)


def _interval(runtime: Runtime, spec: MLCostPolicySpec, previous: MLCostPolicyStatus) -> timedelta:
    return spec.resync_interval


def _record(runtime: Runtime, ref: ObjectRef, result: ReconcileResult, seconds: float) -> None:
    assert isinstance(result, PolicyResult)
    record_policy_result(runtime.metrics, ref.namespace, ref.name, result, seconds)


def _forget(runtime: Runtime, ref: ObjectRef) -> None:
    runtime.metrics.forget_policy(ref.namespace, ref.name)


POLICY: Kind[Any, Any] = Kind(
    name="MLCostPolicy",
    spec_model=MLCostPolicySpec,
    status_model=MLCostPolicyStatus,
    reconcile=_reconcile,
    finalize=_finalize,
    resync_interval=_interval,
    record=_record,
    forget=_forget,
)
