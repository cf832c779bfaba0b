"""High availability: two real operators (`mlcost.handlers.main`, kopf peering) against one fake
API and one embedded AWS. The older replica acts; the newer one stays passive (no watch of our
kinds, no AWS change, no status) until the older one leaves, then takes over."""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import UTC, datetime
from typing import Any

import kopf
import pytest

from mlcost.embedded.server import EmbeddedAws
from mlcost.handlers.main import peering_priority
from tests.conftest import client_of
from tests.kube.fake_api import FakeKubeAPI
from tests.kube.harness import OperatorRun, RunOperator, declare_peering
from tests.operator.test_policy_operator import ACCOUNT, BUDGET, MODULE, NAME, NS, PLURAL, POLICY, ready_for
from tests.reconcile.conftest import mutating_calls

PEERING = "mlcost"  # MLCOST_PEERING's default


def fast_peering(settings: kopf.OperatorSettings) -> None:
    # A keep-alive every second, so a test never waits for kopf's production 60 s lifetime.
    settings.peering.lifetime = 3


def peers(kube: FakeKubeAPI, plural: str, namespace: str | None) -> dict[str, Any]:
    return dict((kube.get(plural, namespace, PEERING) or {}).get("status") or {})


def limit_in_aws(aws: EmbeddedAws) -> float:
    budget = client_of(aws, "budgets").describe_budget(AccountId=ACCOUNT, BudgetName=BUDGET)["Budget"]
    return float(budget["BudgetLimit"]["Amount"])


def test_older_replicas_rank_higher_and_ties_are_broken() -> None:
    assert peering_priority(1_000.0, 0) > peering_priority(1_000.001, 999)
    assert peering_priority(1_000.0, 1) != peering_priority(1_000.0, 2)
    # Below kopf's defaults (0, and 666 for `kopf run --dev`): a person's dev run pauses them all.
    assert peering_priority(1_800_000_000.0) < 0


@pytest.mark.parametrize("namespaced", [False, True], ids=["cluster-wide", "namespaced"])
async def test_second_operator_is_passive_until_the_first_leaves(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws, namespaced: bool
) -> None:
    namespace = NS if namespaced else None
    plural = declare_peering(kube, PEERING, namespace)
    options: dict[str, Any] = {"standalone": False, "configure": fast_peering, "namespace": namespace}

    first_run = run_operator(MODULE, **options)
    first: OperatorRun = await first_run.__aenter__()  # returns once it watches our kinds: active
    second_run = run_operator(MODULE, watched=[plural], **options)
    try:
        await second_run.__aenter__()
        await kube.wait_until(lambda: len(peers(kube, plural, namespace)) == 2, timeout=10)
        watches_before = len(kube.watches(PLURAL))

        kube.create(copy.deepcopy(POLICY))
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=15)
        await asyncio.sleep(1.5)  # several ticks and keep-alives of both

        # One operator acted: one budget created, our kinds watched by the first one only.
        assert mutating_calls(aws) == {("budgets", "CreateBudget"): 1}
        assert len(kube.watches(PLURAL)) == watches_before
        assert first.running

        # The first leaves gracefully (a rolling update): it removes itself from the peering,
        # and the second resumes at once, without waiting for the first's lifetime to pass.
        await first_run.__aexit__(None, None, None)
        await kube.wait_until(lambda: len(peers(kube, plural, namespace)) == 1, timeout=10)
        await kube.wait_until(lambda: len(kube.watches(PLURAL)) > watches_before, timeout=10)

        kube.patch_spec(PLURAL, NS, NAME, {"budget": {"limit": "7000"}})
        await kube.wait_for(PLURAL, NS, NAME, ready_for(2), timeout=15)
        assert limit_in_aws(aws) == 7000
    finally:
        await second_run.__aexit__(None, None, None)
        if first.running:
            await first_run.__aexit__(None, None, None)
    assert peers(kube, plural, namespace) == {}  # both left the peering on their way out


async def test_a_crashed_active_replica_is_replaced_once_its_lifetime_passed(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws
) -> None:
    # What a replica that was killed (OOM, node lost) leaves behind: its last keep-alive, with
    # the priority of an older replica; it never says goodbye.
    plural = declare_peering(kube, PEERING)
    lifetime = 6
    kube.patch(
        plural,
        None,
        PEERING,
        {
            "status": {
                "crashed-replica": {
                    "priority": peering_priority(time.time() - 3600),
                    "lifetime": lifetime,
                    "lastseen": datetime.now(UTC).isoformat(),
                }
            }
        },
    )
    kube.create(copy.deepcopy(POLICY))
    started = time.monotonic()
    async with run_operator(MODULE, standalone=False, configure=fast_peering, watched=[plural]):
        await kube.wait_until(lambda: len(peers(kube, plural, None)) == 2, timeout=10)
        assert time.monotonic() - started < lifetime - 1, "the machine is too slow for this test"
        await asyncio.sleep(max(0.0, lifetime - 1 - (time.monotonic() - started)))
        # Until the crashed replica's last keep-alive expires, it might still be alive: wait.
        assert "status" not in (kube.get(PLURAL, NS, NAME) or {})
        assert not kube.watches(PLURAL)
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=15)
        assert time.monotonic() - started >= lifetime - 0.5
        assert "crashed-replica" not in peers(kube, plural, None)  # kopf cleans the dead entry
    assert mutating_calls(aws) == {("budgets", "CreateBudget"): 1}


def budget_calls(aws: EmbeddedAws) -> int:
    return sum(count for (service, _), count in aws.calls().items() if service == "budgets")


async def test_resyncs_hold_while_the_operator_is_frozen(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws
) -> None:
    # A policy that AWS keeps throttling is retried every MLCOST_RETRY_INTERVAL (1 s here) by the
    # resync scheduler, outside kopf's handlers: a freeze must stop those retries too.
    plural = declare_peering(kube, PEERING)
    aws.inject_error("budgets", "CreateBudget", "ThrottlingException", "Rate exceeded", count=None)
    async with run_operator(MODULE, standalone=False, configure=fast_peering):
        kube.create(copy.deepcopy(POLICY))
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1, "False"), timeout=15)
        first = aws.calls().get(("budgets", "CreateBudget"), 0)
        await kube.wait_until(lambda: aws.calls().get(("budgets", "CreateBudget"), 0) > first, timeout=10)

        # `kopf freeze --peering mlcost` (README): a peer of priority 100 for its lifetime.
        freeze = {"priority": 100, "lifetime": 3600, "lastseen": datetime.now(UTC).isoformat()}
        kube.patch(plural, None, PEERING, {"status": {"kopf-freeze": freeze}})
        await asyncio.sleep(2)  # a resync already under way ends (AWS retries with backoff)
        aws.reset_calls()
        await asyncio.sleep(3)  # three retry intervals
        assert budget_calls(aws) == 0, aws.calls()

        # `kopf resume`: the retries go on, and once AWS answers the policy becomes Ready.
        kube.patch(plural, None, PEERING, {"status": {"kopf-freeze": None}})
        await kube.wait_until(lambda: budget_calls(aws) > 0, timeout=10)
        aws.clear_errors()
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=15)
