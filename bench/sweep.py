"""Benchmark: AWS calls, seconds and peak RSS of budget sweeps over many policies.

    .venv/bin/python bench/sweep.py [--policies 20] [--sweeps 3]

Sweep 1 creates every budget; later sweeps find nothing to change and should cost only reads
(and no Cost Explorer request: answers are cached for an hour).
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter
from datetime import timedelta

import boto3

from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec
from mlcost.aws.session import AwsSessions, CountingRecorder
from mlcost.domain.spend import SpendCache
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.policy import PolicyReconciler
from mlcost.reconcile.results import ObjectRef


def policy(team: int) -> MLCostPolicySpec:
    return MLCostPolicySpec.model_validate(
        {
            "budget": {
                "limit": "5000",
                "costFilters": {"services": ["Amazon SageMaker"], "tags": {"team": [f"team-{team}"]}},
                "notifications": [
                    {"type": "FORECASTED", "threshold": "80", "emails": [f"leads-{team}@example.com"]},
                    {"type": "ACTUAL", "threshold": "100", "emails": [f"leads-{team}@example.com"]},
                ],
            }
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=20)
    parser.add_argument("--sweeps", type=int, default=3)
    args = parser.parse_args()
    with EmbeddedAws() as aws:
        recorder = CountingRecorder()
        sessions = AwsSessions(
            default_region="us-east-1",
            endpoint_url=aws.endpoint_url,
            recorder=recorder,
            base_session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
        )
        reconciler = PolicyReconciler(sessions, SpendCache(timedelta(hours=1)))
        specs = {ObjectRef(f"team-{i}", "cost", generation=1): policy(i) for i in range(args.policies)}
        statuses: dict[ObjectRef, object] = {}
        print(f"{args.policies} policies, one budget each with 2 notifications")
        for sweep in range(1, args.sweeps + 1):
            before = Counter(recorder.calls)
            started = time.perf_counter()
            for ref, spec in specs.items():
                statuses[ref] = reconciler.reconcile(ref, spec, statuses.get(ref)).status  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
            calls = Counter({k[:2]: v for k, v in (recorder.calls - before).items()})
            by_operation = ", ".join(f"{s}:{op}={n}" for (s, op), n in sorted(calls.items()))
            print(f"sweep {sweep}: {sum(calls.values())} calls in {seconds:.2f}s ({by_operation})")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
