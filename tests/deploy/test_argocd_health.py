"""The Argo CD health checks we ship (deploy/gitops/argocd-cm-health.yaml), run as Lua.

Argo CD runs `resource.customizations.health.<group>_<Kind>` scripts in gopher-lua (Lua 5.1) with
the object as the global `obj`; the script returns a table whose `status` is Healthy, Progressing,
Degraded, Suspended or Missing and whose `message` Argo CD shows next to it
(https://argo-cd.readthedocs.io/en/stable/operator-manual/health/). Here lupa's Lua 5.1 runs the
scripts exactly as shipped, in an environment holding only Lua's base functions and the string,
table and math libraries, against statuses built by the operator's own models and reconcile code.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcost.api.common import ConditionStatus
from mlcost.api.v1alpha1.endpointrightsizing import EndpointRightsizingStatus, Rollout, RolloutPhase
from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicyStatus
from mlcost.api.v1alpha1.mlcostreport import MLCostReportSpec, MLCostReportStatus
from mlcost.domain import conditions as cond
from mlcost.domain.budget import Blocker
from mlcost.domain.errors import MlcostError
from mlcost.domain.spend import SpendCache
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.report import ReportReconciler
from mlcost.reconcile.results import ObjectRef
from tests.conftest import client_of
from tests.deploy.test_flux_kstatus import reconcile_policy as reconciled_policy_status
from tests.reconcile.conftest import embedded_sessions
from tests.reconcile.test_budget_lifecycle import create_foreign_budget

lupa = pytest.importorskip("lupa.lua51", reason="pip install 'lupa>=2.0' to run the Argo CD health Lua")

ROOT = Path(__file__).resolve().parents[2]
HEALTH_FILE = ROOT / "deploy" / "gitops" / "argocd-cm-health.yaml"
OPERATOR = ROOT / "operator" / "mlcost"
POLICY = "resource.customizations.health.mlcost.io_MLCostPolicy"
RIGHTSIZING = "resource.customizations.health.mlcost.io_EndpointRightsizing"
REPORT = "resource.customizations.health.mlcost.io_MLCostReport"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# What gopher-lua gives a health script in Argo CD, minus anything with side effects.
_RUNNER = """
function(script, obj)
  local chunk, err = loadstring(script, "health.lua")
  if chunk == nil then error(err) end
  local env = {
    obj = obj, ipairs = ipairs, pairs = pairs, next = next, type = type, tostring = tostring,
    tonumber = tonumber, error = error, select = select, unpack = unpack,
    string = string, table = table, math = math,
  }
  setfenv(chunk, env)
  return chunk()
end
"""


def scripts() -> dict[str, str]:
    manifest = yaml.safe_load(HEALTH_FILE.read_text())
    assert manifest["kind"] == "ConfigMap" and manifest["metadata"]["name"] == "argocd-cm"
    return dict(manifest["data"])


def health(key: str, obj: dict[str, Any]) -> tuple[str, str]:
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    result = lua.eval(_RUNNER)(scripts()[key], lua.table_from(obj, recursive=True))
    assert result is not None, "the script returned nothing"
    return str(result["status"]), str(result["message"])


def policy(status: Any, generation: int = 2) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "mlcost.io/v1alpha1",
        "kind": "MLCostPolicy",
        "metadata": {"name": "fraud", "namespace": "team-fraud", "generation": generation},
        "spec": {},
    }
    if status is not None:
        obj["status"] = status.to_api()
    return obj


def rightsizing(status: Any, generation: int = 2) -> dict[str, Any]:
    obj = policy(None, generation) | {"kind": "EndpointRightsizing"}
    if status is not None:
        obj["status"] = status.to_api()
    return obj


def report(status: Any, generation: int = 2) -> dict[str, Any]:
    obj = policy(None, generation) | {"kind": "MLCostReport"}
    if status is not None:
        obj["status"] = status.to_api()
    return obj


def with_ready(status: Any, ok: bool | ConditionStatus, reason: str, generation: int = 2) -> Any:
    status.observed_generation = generation
    cond.set_on(status, cond.READY, ok, reason, f"what {reason} means", now=NOW, generation=generation)
    return status


# ---------------------------------------------------------------- every reason the operator sets


def error_classes() -> list[type[MlcostError]]:
    import mlcost.aws.errors
    import mlcost.catalogue  # noqa: F401  (defines CatalogueFileError)

    found: list[type[MlcostError]] = [MlcostError]
    stack = [MlcostError]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.append(sub)
            stack.append(sub)
    return found


def literal_reasons() -> set[str]:
    """Ready=False reasons written as literals in the reconcile and handler code."""
    reasons = set()
    for path in [*OPERATOR.glob("reconcile/*.py"), *OPERATOR.glob("handlers/*.py")]:
        text = path.read_text()
        reasons |= set(re.findall(r'_not_ready\(\s*result,\s*previous,\s*"(\w+)"', text))
        reasons |= set(re.findall(r'cond\.READY,\s*False,\s*"(\w+)"', text))
        reasons |= set(re.findall(r'cond\.READY,\s*\n?\s*False,\s*\n?\s*"(\w+)"', text))
    return reasons


TRANSIENT = {cls.reason for cls in error_classes() if cls.transient}
NOT_READY = (
    {cls.reason for cls in error_classes()}
    | {blocker.value for blocker in Blocker}
    | literal_reasons()
    | {"InvalidSpec"}
)


def test_the_reason_tables_are_not_empty() -> None:
    # Guards the scans above: if they matched nothing, the per-reason tests would test nothing.
    assert {"Throttled", "AwsUnavailable"} <= TRANSIENT
    assert {"InvalidSpec", "AccessDenied", "BudgetNotOwned", "BudgetOwnedByAnotherPolicy"} <= NOT_READY
    assert {"EndpointNotFound", "VariantNotFound", "InvalidPriceCatalogue"} <= NOT_READY


@pytest.mark.parametrize("reason", sorted(NOT_READY))
@pytest.mark.parametrize("key", [POLICY, RIGHTSIZING])
def test_ready_false_is_degraded_unless_the_operator_retries_it(key: str, reason: str) -> None:
    make = policy if key == POLICY else rightsizing
    model = MLCostPolicyStatus() if key == POLICY else EndpointRightsizingStatus()
    status, message = health(key, make(with_ready(model, False, reason)))
    expected = "Progressing" if reason in TRANSIENT else "Degraded"
    assert (status, reason) == (expected, reason)
    assert reason in message and f"what {reason} means" in message


# ---------------------------------------------------------------- generations and the Ready condition


@pytest.mark.parametrize("key", [POLICY, RIGHTSIZING])
def test_ready_for_the_current_generation_is_healthy(key: str) -> None:
    make = policy if key == POLICY else rightsizing
    model = MLCostPolicyStatus() if key == POLICY else EndpointRightsizingStatus()
    assert health(key, make(with_ready(model, True, "Reconciled"))) == ("Healthy", "what Reconciled means")


@pytest.mark.parametrize("key", [POLICY, RIGHTSIZING])
def test_a_spec_not_yet_observed_is_progressing(key: str) -> None:
    make = policy if key == POLICY else rightsizing
    model = MLCostPolicyStatus() if key == POLICY else EndpointRightsizingStatus()
    # Just created: no status at all.
    assert health(key, make(None))[0] == "Progressing"
    # Edited: Ready=True still describes generation 2 while the spec is at 3.
    stale = make(with_ready(model, True, "Reconciled", generation=2), generation=3)
    assert health(key, stale)[0] == "Progressing"
    # Even a failure of the previous spec is not Degraded: the new spec may fix it.
    model = MLCostPolicyStatus() if key == POLICY else EndpointRightsizingStatus()
    assert health(key, make(with_ready(model, False, "InvalidSpec", generation=2), generation=3))[0] == (
        "Progressing"
    )


@pytest.mark.parametrize("key", [POLICY, RIGHTSIZING])
def test_no_ready_condition_or_ready_unknown_is_progressing(key: str) -> None:
    make = policy if key == POLICY else rightsizing
    model = MLCostPolicyStatus(observed_generation=2) if key == POLICY else EndpointRightsizingStatus()
    model.observed_generation = 2
    assert health(key, make(model))[0] == "Progressing"
    model = MLCostPolicyStatus() if key == POLICY else EndpointRightsizingStatus()
    assert health(key, make(with_ready(model, ConditionStatus.UNKNOWN, "Reconciling")))[0] == "Progressing"


# ---------------------------------------------------------------- EndpointRightsizing rollouts


def test_a_rollout_in_progress_is_progressing_and_its_outcome_healthy() -> None:
    status = with_ready(EndpointRightsizingStatus(), True, "Recommended")
    status.rollout = Rollout(
        phase=RolloutPhase.UPDATING,
        endpoint_config="fraud-ep-rightsized-2",
        previous_endpoint_config="fraud-ep-1",
        started=NOW,
        message="UpdateEndpoint called",
    )
    cond.set_on(status, "Synced", False, "EndpointUpdating", "fraud-ep is Updating", now=NOW, generation=2)
    state, message = health(RIGHTSIZING, rightsizing(status))
    assert state == "Progressing" and "fraud-ep-rightsized-2" in message

    # SageMaker still updating after the operator recorded its rollout's end (or someone else's change).
    status.rollout.phase = RolloutPhase.SUCCEEDED
    assert health(RIGHTSIZING, rightsizing(status)) == ("Progressing", "fraud-ep is Updating")

    cond.set_on(status, "Synced", True, "InService", "fraud-ep is InService", now=NOW, generation=2)
    assert health(RIGHTSIZING, rightsizing(status))[0] == "Healthy"
    # Rolled back by SageMaker: the endpoint serves on its old config and the operator will not
    # try that config again, so nothing is in progress and nothing waits for a person.
    status.rollout.phase = RolloutPhase.ROLLED_BACK
    assert health(RIGHTSIZING, rightsizing(status))[0] == "Healthy"


# ---------------------------------------------------------------- statuses the reconcile code writes


def reconcile_policy(aws: EmbeddedAws, endpoint_url: str | None = None) -> dict[str, Any]:
    """The policy as the API server stores it after PolicyReconciler wrote its status."""
    return {**policy(None), "status": reconciled_policy_status(aws, endpoint_url=endpoint_url)}


def test_statuses_from_the_reconcile_code(embedded_aws: EmbeddedAws) -> None:
    embedded_aws.reset()
    assert health(POLICY, reconcile_policy(embedded_aws))[0] == "Healthy"

    # AWS unreachable (nothing listens on port 9 of loopback): retried, not a person's job.
    state, message = health(POLICY, reconcile_policy(embedded_aws, endpoint_url="http://127.0.0.1:9"))
    assert (state, message.split(" ")[0]) == ("Progressing", "AwsUnavailable")

    # Someone made a budget of that name in the console: the operator will not take it over.
    embedded_aws.reset()
    create_foreign_budget(client_of(embedded_aws, "budgets"), "team-fraud-fraud")
    state, message = health(POLICY, reconcile_policy(embedded_aws))
    assert (state, message.split(":")[0]) == ("Degraded", "BudgetNotOwned")


# ---------------------------------------------------------------- MLCostReport


@pytest.mark.parametrize("reason", sorted(NOT_READY))
def test_report_ready_false_is_degraded_unless_the_operator_retries_it(reason: str) -> None:
    status, message = health(REPORT, report(with_ready(MLCostReportStatus(), False, reason)))
    expected = "Progressing" if reason in TRANSIENT else "Degraded"
    assert (status, reason) == (expected, reason)
    assert reason in message and f"what {reason} means" in message


def test_report_generations_and_ready_unknown() -> None:
    assert health(REPORT, report(None))[0] == "Progressing"
    stale = report(with_ready(MLCostReportStatus(), True, "Reconciled", generation=2), generation=3)
    assert health(REPORT, stale)[0] == "Progressing"
    unknown = with_ready(MLCostReportStatus(), ConditionStatus.UNKNOWN, "Reconciling")
    assert health(REPORT, report(unknown))[0] == "Progressing"
    assert health(REPORT, report(with_ready(MLCostReportStatus(), True, "Reconciled")))[0] == "Healthy"


def test_report_findings_stay_healthy_and_are_named() -> None:
    # A plan expiring or much untagged spend is what the report is for, not the operator failing.
    status = with_ready(MLCostReportStatus(), True, "Reconciled")
    cond.set_on(status, "SavingsPlansHealthy", False, "PlanExpiring", "sp-1 ends", now=NOW, generation=2)
    cond.set_on(status, "UntaggedSpendLow", False, "UntaggedSpendHigh", "31% untagged", now=NOW, generation=2)
    state, message = health(REPORT, report(status))
    assert state == "Healthy"
    assert "SavingsPlansHealthy PlanExpiring: sp-1 ends" in message
    assert "UntaggedSpendHigh: 31% untagged" in message


def reconcile_report(aws: EmbeddedAws) -> dict[str, Any]:
    sessions = embedded_sessions(aws.endpoint_url, max_attempts=1)
    spec = MLCostReportSpec.model_validate({"showback": {"groupByTag": "team"}})
    result = ReportReconciler(sessions, SpendCache(timedelta(hours=1))).reconcile(
        ObjectRef("mlcost-system", "showback", generation=2), spec, None
    )
    return report(result.status)


def test_report_statuses_from_the_reconcile_code(embedded_aws: EmbeddedAws) -> None:
    embedded_aws.reset()
    embedded_aws.add_cost_line_items(
        [{"date": NOW.date().isoformat(), "usageType": "USE1-Host:ml.m5.xlarge", "amount": "5", "tags": {}}]
    )
    embedded_aws.set_cost_allocation_tags([{"TagKey": "team", "Status": "Active"}])
    assert health(REPORT, reconcile_report(embedded_aws))[0] == "Healthy"

    # A missing permission needs a person: Degraded, naming the permission.
    embedded_aws.inject_error(
        "savingsplans", "DescribeSavingsPlans", "AccessDeniedException", "no", count=None
    )
    state, message = health(REPORT, reconcile_report(embedded_aws))
    assert state == "Degraded" and "savingsplans:DescribeSavingsPlans" in message
    embedded_aws.clear_errors()

    # Throttled after the retries: the operator retries by itself.
    embedded_aws.inject_error("ce", "GetCostAndUsage", "ThrottlingException", "Rate exceeded", count=None)
    state, message = health(REPORT, reconcile_report(embedded_aws))
    assert (state, message.split(" ")[0]) == ("Progressing", "Throttled")
    embedded_aws.clear_errors()
