"""MLCostReport as the generic handlers see it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mlcost.api.v1alpha1.mlcostreport import MLCostReportSpec, MLCostReportStatus
from mlcost.handlers.objects import Kind, ReconcileResult
from mlcost.handlers.runtime import Runtime
from mlcost.metrics import record_report_result
from mlcost.reconcile.report import ReportResult
from mlcost.reconcile.results import ObjectRef, Outcome


def _reconcile(
    runtime: Runtime, ref: ObjectRef, spec: MLCostReportSpec, previous: MLCostReportStatus | None
) -> ReportResult:
    return runtime.reports.reconcile(ref, spec, previous)


def _finalize(
    runtime: Runtime, ref: ObjectRef, spec: MLCostReportSpec, previous: MLCostReportStatus | None
) -> Outcome:
    return runtime.reports.finalize(ref, spec, previous)


def _interval(runtime: Runtime, spec: MLCostReportSpec, previous: MLCostReportStatus) -> timedelta:
    return spec.resync_interval


def _record(runtime: Runtime, ref: ObjectRef, result: ReconcileResult, seconds: float) -> None:
    assert isinstance(result, ReportResult)
    record_report_result(runtime.metrics, ref.namespace, ref.name, result, seconds)


def _forget(runtime: Runtime, ref: ObjectRef) -> None:
    runtime.metrics.forget_report(ref.namespace, ref.name)


REPORT: Kind[Any, Any] = Kind(
    name="MLCostReport",
    spec_model=MLCostReportSpec,
    status_model=MLCostReportStatus,
    reconcile=_reconcile,
    finalize=_finalize,
    resync_interval=_interval,
    record=_record,
    forget=_forget,
)
