"""Benchmark: one full governance sweep of 20 policies over a seeded account (calls, s, RSS).

    .venv/bin/python bench/governance.py [--resources 1000 10000] [--teams 20]

Each team's policy (Audit mode) owns a budget and governs its team's resources with every rule
kind: tags, notebooks, training, idle endpoints. Sweep 1 is the first after the operator
starts (it creates budgets and describes endpoint configs once); sweep 2 is the steady state.
The target of issue 3: calls per sweep within 1.5x of ceil(resources/100) + a constant per
policy.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import timedelta

from inventory import report, resources_read, run_sizes, seeded_account  # bench/ is the script directory

from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec, MLCostPolicyStatus
from mlcost.domain.spend import SpendCache
from mlcost.reconcile.policy import PolicyReconciler
from mlcost.reconcile.results import ObjectRef


def team_policy(team: int) -> MLCostPolicySpec:
    return MLCostPolicySpec.model_validate(
        {
            "mode": "Audit",
            "scope": {"tags": {"team": f"team-{team}"}},
            "budget": {
                "limit": "5000",
                "costFilters": {"tags": {"team": [f"team-{team}"]}},
                "notifications": [{"type": "ACTUAL", "threshold": "80", "emails": [f"t{team}@example.com"]}],
            },
            "tagging": {"required": [{"key": "team"}, {"key": "cost-center"}]},
            "notebooks": {"allowedInstanceTypes": ["ml.t3.medium"], "maxUptime": "12h"},
            "training": {"requireManagedSpot": True, "maxRuntime": "24h"},
            "endpoints": {"idle": {"window": "7d", "maxInvocations": 0}},
        }
    )


def bench(resources: int, teams: int) -> None:
    with seeded_account(resources, teams) as (sessions, recorder, seeded):
        reconciler = PolicyReconciler(sessions, SpendCache(timedelta(hours=1)))
        policies = {ObjectRef(f"team-{t}", "cost", generation=1): team_policy(t) for t in range(teams)}
        statuses: dict[ObjectRef, MLCostPolicyStatus] = {}
        read = resources_read(seeded)
        print(
            f"\n{seeded['resources']} resources, {teams} policies; ceil({read}/100) = {math.ceil(read / 100)}"
        )
        account = sessions.account_id(sessions.target(None, None))
        for label in ("sweep 1 (after start)", "sweep 2 (steady)"):
            # Each sweep reads the inventory once, as a resync after its max age would.
            reconciler.governance.inventories.invalidate(account, "us-east-1")
            before = Counter(recorder.calls)
            started = time.perf_counter()
            violations = 0
            for ref, spec in policies.items():
                result = reconciler.reconcile(ref, spec, statuses.get(ref))
                statuses[ref] = result.status
                violations += result.status.compliance.violations if result.status.compliance else 0
            report(label, recorder, before, time.perf_counter() - started, f"{violations} violations")


def main() -> None:
    run_sizes(bench, __doc__)


if __name__ == "__main__":
    main()
