"""The real operator (kopf, `mlcost.handlers.main`) against the fake Kubernetes API and the
embedded AWS: what a user sees in status, Events and AWS after kubectl apply / edit / delete."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mlcost.embedded.server import EmbeddedAws
from tests.conftest import client_of
from tests.kube.fake_api import FakeKubeAPI, KubeAPIError
from tests.kube.harness import RunOperator
from tests.reconcile.conftest import mutating_calls
from tests.reconcile.test_budget_lifecycle import create_foreign_budget
from tests.reconcile.test_governance import notebook

MODULE = "mlcost.handlers.main"
PLURAL = "mlcostpolicies"
NS, NAME = "team-fraud", "fraud-detection"
BUDGET = "team-fraud-ml"
ACCOUNT = "123456789012"

POLICY: dict[str, Any] = {
    "apiVersion": "mlcost.io/v1alpha1",
    "kind": "MLCostPolicy",
    "metadata": {"name": NAME, "namespace": NS},
    "spec": {
        "budget": {
            "name": BUDGET,
            "limit": "5000",
            "costFilters": {"services": ["Amazon SageMaker"]},
            "notifications": [{"type": "ACTUAL", "threshold": "80", "emails": ["ml-leads@example.com"]}],
        }
    },
}


@pytest.fixture
def budgets_api(aws: EmbeddedAws) -> Any:
    return client_of(aws, "budgets")


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for found in ((obj or {}).get("status") or {}).get("conditions", []):
        if found["type"] == type_:
            return dict(found)
    return {}


def ready_for(generation: int, status: str = "True") -> Any:
    def check(obj: dict[str, Any] | None) -> bool:
        return bool(
            obj
            and obj.get("status", {}).get("observedGeneration") == generation
            and condition(obj, "Ready").get("status") == status
        )

    return check


def limit_in_aws(budgets_api: Any) -> float:
    return float(
        budgets_api.describe_budget(AccountId=ACCOUNT, BudgetName=BUDGET)["Budget"]["BudgetLimit"]["Amount"]
    )


def pretend_last_sweep_was_long_ago(kube: FakeKubeAPI) -> None:
    """Move lastSweep back past resyncInterval (min 1m), so the next resync check is due."""
    past = (datetime.now(UTC) - timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    kube.patch_status(PLURAL, NS, NAME, {"lastSweep": past})


def swept_recently(obj: dict[str, Any] | None) -> bool:
    last = (obj or {}).get("status", {}).get("lastSweep")
    return bool(last) and datetime.fromisoformat(last.replace("Z", "+00:00")) > datetime.now(UTC) - timedelta(
        minutes=5
    )


async def test_apply_edit_delete(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws, budgets_api: Any
) -> None:
    async with run_operator(MODULE):
        kube.create(copy.deepcopy(POLICY))
        obj = await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=15)

        assert limit_in_aws(budgets_api) == 5000
        assert condition(obj, "BudgetSynced")["reason"] == "Applied"
        assert obj["status"]["budget"]["name"] == BUDGET
        assert obj["status"]["budget"]["limit"] == "5000"
        assert "mlcost.io/finalizer" in obj["metadata"]["finalizers"]
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="BudgetCreated")), timeout=10)

        kube.patch_spec(PLURAL, NS, NAME, {"budget": {"limit": "7000"}})
        obj = await kube.wait_for(PLURAL, NS, NAME, ready_for(2), timeout=15)
        assert limit_in_aws(budgets_api) == 7000
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="BudgetUpdated")), timeout=10)

        kube.delete(PLURAL, NS, NAME)
        await kube.wait_for(PLURAL, NS, NAME, lambda o: o is None, timeout=15)
        assert budgets_api.describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []


async def test_drift_reverted_and_quiet_resync(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws, budgets_api: Any
) -> None:
    async with run_operator(MODULE):
        kube.create(copy.deepcopy(POLICY))
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=15)

        # A resync with nothing changed reads AWS and changes nothing.
        aws.reset_calls()
        pretend_last_sweep_was_long_ago(kube)
        await kube.wait_until(lambda: bool(aws.calls()), timeout=15)
        await kube.wait_for(PLURAL, NS, NAME, swept_recently, timeout=15)
        assert mutating_calls(aws) == {}

        # Someone raises the limit in the console: the next resync puts it back.
        budget = budgets_api.describe_budget(AccountId=ACCOUNT, BudgetName=BUDGET)["Budget"]
        budget["BudgetLimit"]["Amount"] = "123456"
        budget.pop("CalculatedSpend", None)
        budgets_api.update_budget(AccountId=ACCOUNT, NewBudget=budget)
        pretend_last_sweep_was_long_ago(kube)
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="BudgetDriftReverted")), timeout=15)
        assert limit_in_aws(budgets_api) == 5000


async def test_retain_keeps_the_budget(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws, budgets_api: Any
) -> None:
    policy = copy.deepcopy(POLICY)
    policy["spec"]["budget"]["deletionPolicy"] = "Retain"
    async with run_operator(MODULE):
        kube.create(policy)
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=15)
        kube.delete(PLURAL, NS, NAME)
        await kube.wait_for(PLURAL, NS, NAME, lambda o: o is None, timeout=15)
    assert limit_in_aws(budgets_api) == 5000
    await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="BudgetRetained")), timeout=10)


async def test_not_owned_budget_is_reported_not_touched(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws, budgets_api: Any
) -> None:
    create_foreign_budget(budgets_api, BUDGET)
    async with run_operator(MODULE):
        kube.create(copy.deepcopy(POLICY))
        obj = await kube.wait_for(PLURAL, NS, NAME, ready_for(1, "False"), timeout=15)
        assert condition(obj, "BudgetSynced")["reason"] == "BudgetNotOwned"
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="BudgetNotOwned")), timeout=10)

        kube.patch_spec(PLURAL, NS, NAME, {"budget": {"adopt": True}})
        await kube.wait_for(PLURAL, NS, NAME, ready_for(2), timeout=15)
        assert limit_in_aws(budgets_api) == 5000


async def test_invalid_manifest_is_reported_and_aws_untouched(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws
) -> None:
    refused = copy.deepcopy(POLICY)
    refused["spec"]["budget"]["limit"] = "0"
    with pytest.raises(KubeAPIError) as err:  # the CRD's schema refuses it at `kubectl apply`
        kube.create(refused)
    assert err.value.status == 422 and "spec.budget.limit" in err.value.body["message"]
    # What no schema can tell (a regular expression that does not compile) the operator reports.
    policy = copy.deepcopy(POLICY)
    policy["spec"]["tagging"] = {"required": [{"key": "team", "pattern": "(unclosed"}]}
    async with run_operator(MODULE):
        kube.create(policy)
        obj = await kube.wait_for(PLURAL, NS, NAME, ready_for(1, "False"), timeout=15)
    ready = condition(obj, "Ready")
    assert ready["reason"] == "InvalidSpec"
    assert "spec.tagging.required.0.pattern" in ready["message"]
    await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="InvalidSpec")), timeout=10)
    assert mutating_calls(aws) == {}


async def test_throttling_is_reported_then_converges(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws, budgets_api: Any
) -> None:
    aws.inject_error("budgets", "CreateBudget", "ThrottlingException", "Rate exceeded", count=None)
    async with run_operator(MODULE):
        kube.create(copy.deepcopy(POLICY))
        obj = await kube.wait_for(PLURAL, NS, NAME, ready_for(1, "False"), timeout=15)
        assert condition(obj, "Ready")["reason"] == "Throttled"

        aws.clear_errors()
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=20)
    assert limit_in_aws(budgets_api) == 5000
    assert len(budgets_api.describe_budgets(AccountId=ACCOUNT)["Budgets"]) == 1


async def test_enforce_policy_marks_then_stops_a_notebook(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCOST_INVENTORY_MAX_AGE", "0s")
    sagemaker = client_of(aws, "sagemaker")
    notebook(sagemaker, "fraud-gpu", "ml.m5.xlarge", tags={"team": "fraud"})
    policy = copy.deepcopy(POLICY)
    policy["spec"] = {
        "mode": "Enforce",
        "scope": {"tags": {"team": "fraud"}},
        "notebooks": {"allowedInstanceTypes": ["ml.t3.medium"]},
        "enforcement": {"gracePeriod": "1s"},
    }
    async with run_operator(MODULE):
        kube.create(policy)
        obj = await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=15)
        assert condition(obj, "Compliant")["reason"] == "ViolationsFound"
        item = obj["status"]["compliance"]["items"][0]
        assert (item["name"], item["rule"]) == ("fraud-gpu", "InstanceTypeNotAllowed")
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="ViolationMarked")), timeout=10)

        await asyncio.sleep(1.5)  # the 1s grace period (marks have whole seconds) has passed
        pretend_last_sweep_was_long_ago(kube)
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="NotebookStopped")), timeout=15)
    status = sagemaker.describe_notebook_instance(NotebookInstanceName="fraud-gpu")["NotebookInstanceStatus"]
    assert status == "Stopped"
