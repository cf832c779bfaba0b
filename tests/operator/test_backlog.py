"""An operator started with a backlog of policies (a restart after an outage, a first install into
a busy cluster) reconciles them a few at a time, MLCOST_MAX_CONCURRENT_RECONCILES at most, and
still brings every one of them to Ready.

What runs at once is seen from outside, at the AWS API: an HTTP proxy between the operator and
the embedded AWS holds each Budgets request a moment and records which budgets have a request
open. A reconcile makes its budget calls one after another, so the budgets with a call open at
one instant are at most the reconciles running at that instant.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import aiohttp.web
import pytest

from mlcost.embedded.server import EmbeddedAws
from mlcost.handlers.main import LIST_CHUNK
from tests.conftest import client_of
from tests.kube.fake_api import FakeKubeAPI
from tests.kube.harness import RunOperator
from tests.operator.test_policy_operator import ACCOUNT, MODULE, PLURAL, ready_for
from tests.reconcile.conftest import mutating_calls

POLICIES = 12
DEFAULT_BOUND = 4  # the documented default of MLCOST_MAX_CONCURRENT_RECONCILES
HOLD = 0.15  # seconds each Budgets request is held: long enough for reconciles to overlap
BUDGETS_TARGET = "AWSBudgetServiceGateway."
HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class BudgetCallWatch:
    """A reverse proxy to the embedded AWS that tracks the budgets with a request in flight."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.open: dict[str, int] = {}
        self.most_at_once = 0
        self.budget_requests = 0
        self.url = ""
        self._runner: aiohttp.web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    async def start(self) -> BudgetCallWatch:
        app = aiohttp.web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = aiohttp.web.AppRunner(app)
        await self._runner.setup()
        site = aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0)  # a free port
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._client = aiohttp.ClientSession(auto_decompress=False)
        return self

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        body = await request.read()
        budget = None
        if request.headers.get("X-Amz-Target", "").startswith(BUDGETS_TARGET):
            budget = str(json.loads(body or b"{}").get("BudgetName", ""))
        if budget:
            self.budget_requests += 1
            self.open[budget] = self.open.get(budget, 0) + 1
            self.most_at_once = max(self.most_at_once, len(self.open))
        try:
            if budget:
                await asyncio.sleep(HOLD)
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            assert self._client is not None
            async with self._client.request(
                request.method, f"{self.upstream}{request.path_qs}", headers=headers, data=body
            ) as answer:
                payload = await answer.read()
                kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                return aiohttp.web.Response(status=answer.status, body=payload, headers=kept)
        finally:
            if budget:
                self.open[budget] -= 1
                if not self.open[budget]:
                    del self.open[budget]


@pytest.fixture
async def budget_calls(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BudgetCallWatch]:
    """The operator talks to the embedded AWS through a BudgetCallWatch."""
    watch = await BudgetCallWatch(aws.endpoint_url).start()
    monkeypatch.setenv("MLCOST_AWS_ENDPOINT_URL", watch.url)
    yield watch
    await watch.stop()


def team_policy(index: int) -> dict[str, Any]:
    return {
        "apiVersion": "mlcost.io/v1alpha1",
        "kind": "MLCostPolicy",
        "metadata": {"name": f"policy-{index:02d}", "namespace": f"team-{index % 3}"},
        "spec": {
            "budget": {
                "limit": str(1000 + index),
                "costFilters": {"tags": {"team": [f"team-{index % 3}"]}},
                "notifications": [{"type": "ACTUAL", "threshold": "80", "emails": ["leads@example.com"]}],
            }
        },
    }


async def all_ready(kube: FakeKubeAPI, policies: list[dict[str, Any]], timeout: float) -> None:
    for policy in policies:
        meta = policy["metadata"]
        await kube.wait_for(PLURAL, meta["namespace"], meta["name"], ready_for(1), timeout=timeout)


@pytest.mark.parametrize(("setting", "bound"), [("2", 2), (None, DEFAULT_BOUND)])
async def test_a_backlog_is_reconciled_a_few_at_a_time_and_all_become_ready(
    kube: FakeKubeAPI,
    run_operator: RunOperator,
    aws: EmbeddedAws,
    budget_calls: BudgetCallWatch,
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
    bound: int,
) -> None:
    if setting is None:
        monkeypatch.delenv("MLCOST_MAX_CONCURRENT_RECONCILES", raising=False)
    else:
        monkeypatch.setenv("MLCOST_MAX_CONCURRENT_RECONCILES", setting)
    policies = [team_policy(i) for i in range(POLICIES)]
    for policy in policies:  # all of them exist before the operator starts
        kube.create(policy)

    async with run_operator(MODULE):
        await all_ready(kube, policies, timeout=60)

    assert budget_calls.most_at_once == bound, (
        f"{budget_calls.most_at_once} policies had AWS calls in flight at once; the bound is {bound}"
    )
    budgets = client_of(aws, "budgets").describe_budgets(AccountId=ACCOUNT)["Budgets"]
    assert sorted(b["BudgetName"] for b in budgets) == sorted(
        f"{p['metadata']['namespace']}-{p['metadata']['name']}" for p in policies
    )
    for policy in policies:
        assert kube.events(name=policy["metadata"]["name"], reason="BudgetCreated")


async def test_without_a_bound_the_backlog_runs_side_by_side(
    kube: FakeKubeAPI,
    run_operator: RunOperator,
    aws: EmbeddedAws,
    budget_calls: BudgetCallWatch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 0 turns the bound off: as many run as the thread pool has threads (more than the default).
    monkeypatch.setenv("MLCOST_MAX_CONCURRENT_RECONCILES", "0")
    policies = [team_policy(i) for i in range(POLICIES)]
    for policy in policies:
        kube.create(policy)

    async with run_operator(MODULE):
        await all_ready(kube, policies, timeout=60)

    assert budget_calls.most_at_once > DEFAULT_BOUND


def swept_since(moment: datetime) -> Any:
    def check(obj: dict[str, Any] | None) -> bool:
        last = (obj or {}).get("status", {}).get("lastSweep")
        return bool(last) and datetime.fromisoformat(last.replace("Z", "+00:00")) >= moment

    return check


async def test_a_restart_reconciles_every_current_policy_again_a_few_at_a_time(
    kube: FakeKubeAPI,
    run_operator: RunOperator,
    aws: EmbeddedAws,
    budget_calls: BudgetCallWatch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A restart after an outage: every policy comes back with a current status. Each is
    # reconciled again at once (its metrics are back), in turn with the others, and changes
    # nothing in AWS.
    monkeypatch.setenv("MLCOST_MAX_CONCURRENT_RECONCILES", "2")
    policies = [team_policy(i) for i in range(POLICIES)]
    async with run_operator(MODULE):
        for policy in policies:
            kube.create(policy)
        await all_ready(kube, policies, timeout=60)

    restarted = datetime.now(UTC).replace(microsecond=0)
    await asyncio.sleep(1)  # lastSweep has seconds: the restart's sweeps are told apart
    aws.reset_calls()
    budget_calls.most_at_once = 0
    async with run_operator(MODULE):
        for policy in policies:
            meta = policy["metadata"]
            await kube.wait_for(PLURAL, meta["namespace"], meta["name"], swept_since(restarted), timeout=60)

    assert budget_calls.most_at_once == 2
    assert mutating_calls(aws) == {}
    # The first listing comes in pages, so a restart never parses every full status at once.
    listings = [r for r in kube.requests() if r.action == "LIST" and r.plural == PLURAL]
    assert listings and all(r.params.get("limit") == str(LIST_CHUNK) for r in listings)
