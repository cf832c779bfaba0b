"""`mlcost demo`: the operator's sweep against an embedded AWS seeded with an ML team's account."""

from __future__ import annotations

import time
from datetime import timedelta

from mlcost.api.v1alpha1 import MLCostPolicy
from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicyStatus
from mlcost.aws.session import AwsSessions
from mlcost.domain.spend import SpendCache
from mlcost.manifests import Manifest
from mlcost.metrics import Metrics, record_policy_result
from mlcost.reconcile.policy import PolicyReconciler, PolicyResult
from mlcost.reconcile.results import ObjectRef, utcnow
from mlcost.report import budget_table, changes_and_events, compliance_report


def run_demo(manifests: list[Manifest], *, once: bool, metrics_port: int, interval: float) -> int:
    from mlcost.embedded.seed import demo_session, seed_account
    from mlcost.embedded.server import EmbeddedAws

    policies = [m for m in manifests if isinstance(m, MLCostPolicy)]
    if not policies:
        print("mlcost demo: no MLCostPolicy among the manifests; nothing to reconcile")
        return 1
    aws = EmbeddedAws().start()
    try:
        metrics = Metrics()
        sessions = AwsSessions(
            default_region=aws.region,
            endpoint_url=aws.endpoint_url,
            recorder=metrics,
            base_session=demo_session(aws),
        )
        reconciler = PolicyReconciler(sessions, SpendCache(timedelta(hours=1)))
        first = reconciler.target(policies[0].spec)
        account = sessions.account_id(first)
        seeded = seed_account(aws, utcnow().date(), sessions.client("sagemaker", first), account)
        print(f"Embedded AWS (moto) at {aws.endpoint_url}, account {account}, region {first.region}")
        print(
            f"Seeded: {seeded.endpoints} endpoints, {seeded.notebooks} notebook instances, "
            f"{seeded.training_jobs} training jobs, {seeded.spend_days} days of Cost Explorer spend"
        )
        if metrics_port:
            metrics.serve(metrics_port, "127.0.0.1")
            print(f"Metrics: http://127.0.0.1:{metrics_port}/metrics")
        return _sweep_until_stopped(reconciler, metrics, policies, once=once, interval=interval)
    finally:
        aws.stop()


def _sweep_until_stopped(
    reconciler: PolicyReconciler,
    metrics: Metrics,
    policies: list[MLCostPolicy],
    *,
    once: bool,
    interval: float,
) -> int:
    statuses: dict[ObjectRef, MLCostPolicyStatus] = {}
    sweep = 0
    try:
        while True:
            sweep += 1
            results = _sweep(reconciler, metrics, policies, statuses)
            print(f"\nSweep {sweep} at {utcnow().isoformat()}")
            print(budget_table(results))
            print(compliance_report(results))
            print("What happened in AWS:")
            print(changes_and_events(results))
            if once:
                return 0 if all(r.ready for _, r in results) else 1
            print(f"\nNext sweep in {interval:g}s (Ctrl-C to stop)")
            time.sleep(interval)
    except KeyboardInterrupt:
        print("\nStopped.")
        return 0


def _sweep(
    reconciler: PolicyReconciler,
    metrics: Metrics,
    policies: list[MLCostPolicy],
    statuses: dict[ObjectRef, MLCostPolicyStatus],
) -> list[tuple[ObjectRef, PolicyResult]]:
    results = []
    for policy in policies:
        ref = ObjectRef(policy.metadata.namespace, policy.metadata.name, generation=1)
        started = time.monotonic()
        result = reconciler.reconcile(ref, policy.spec, statuses.get(ref))
        record_policy_result(metrics, ref.namespace, ref.name, result, time.monotonic() - started)
        statuses[ref] = result.status
        results.append((ref, result))
    return results
