"""`mlcost demo`: the operator's sweep against an embedded AWS seeded with an ML team's account."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mlcost.api.v1alpha1 import MLCostPolicy
from mlcost.aws.session import AwsSessions
from mlcost.domain.spend import SpendCache
from mlcost.manifests import Manifest
from mlcost.metrics import Metrics, record_policy_result, record_rightsizing_result
from mlcost.reconcile.policy import PolicyReconciler, PolicyResult
from mlcost.reconcile.results import ObjectRef, utcnow
from mlcost.reconcile.rightsizing import RightsizingReconciler, RightsizingResult
from mlcost.report import budget_table, changes_and_events, compliance_report, rightsizing_report


@dataclass
class _Demo:
    """The demo's operator: both reconcilers, metrics, and each object's last status."""

    policies: PolicyReconciler
    rightsizings: RightsizingReconciler
    metrics: Metrics
    statuses: dict[tuple[str, ObjectRef], Any] = field(default_factory=dict)

    def sweep(
        self, manifests: list[Manifest]
    ) -> tuple[list[tuple[ObjectRef, PolicyResult]], list[tuple[ObjectRef, RightsizingResult]]]:
        policies, rightsizings = [], []
        for manifest in manifests:
            ref = ObjectRef(manifest.metadata.namespace, manifest.metadata.name, generation=1)
            started = time.monotonic()
            if isinstance(manifest, MLCostPolicy):
                result = self.policies.reconcile(ref, manifest.spec, self.statuses.get((manifest.kind, ref)))
                record_policy_result(
                    self.metrics, ref.namespace, ref.name, result, time.monotonic() - started
                )
                policies.append((ref, result))
            else:
                sized = self.rightsizings.reconcile(
                    ref, manifest.spec, self.statuses.get((manifest.kind, ref))
                )
                record_rightsizing_result(
                    self.metrics, ref.namespace, ref.name, sized, time.monotonic() - started
                )
                rightsizings.append((ref, sized))
            self.statuses[(manifest.kind, ref)] = (policies or rightsizings)[-1][1].status
        return policies, rightsizings


def run_demo(manifests: list[Manifest], *, once: bool, metrics_port: int, interval: float) -> int:
    from mlcost.embedded.seed import demo_session, seed_account
    from mlcost.embedded.server import EmbeddedAws

    if not manifests:
        print("mlcost demo: no MLCostPolicy or EndpointRightsizing among the manifests; nothing to do")
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
        policies = PolicyReconciler(sessions, SpendCache(timedelta(hours=1)))
        demo = _Demo(
            policies, RightsizingReconciler(sessions, lambda: policies.governance.catalogue), metrics
        )
        first = manifests[0].spec.aws
        target = sessions.target(first.region if first else None, first.role_arn if first else None)
        account = sessions.account_id(target)
        seeded = seed_account(
            aws,
            utcnow().date(),
            sessions.client("sagemaker", target),
            sessions.client("cloudwatch", target),
            account,
        )
        print(f"Embedded AWS (moto) at {aws.endpoint_url}, account {account}, region {target.region}")
        print(
            f"Seeded: {seeded.endpoints} endpoints, {seeded.notebooks} notebook instances, "
            f"{seeded.training_jobs} training jobs, {seeded.spend_days} days of Cost Explorer spend, "
            "3 days of endpoint metrics"
        )
        if metrics_port:
            metrics.serve(metrics_port, "127.0.0.1")
            print(f"Metrics: http://127.0.0.1:{metrics_port}/metrics")
        return _sweep_until_stopped(demo, manifests, once=once, interval=interval)
    finally:
        aws.stop()


def _sweep_until_stopped(demo: _Demo, manifests: list[Manifest], *, once: bool, interval: float) -> int:
    sweep = 0
    try:
        while True:
            sweep += 1
            policies, rightsizings = demo.sweep(manifests)
            print(f"\nSweep {sweep} at {utcnow().isoformat()}")
            if policies:
                print(budget_table(policies))
                print(compliance_report(policies))
            if rightsizings:
                print(rightsizing_report(rightsizings))
            print("What happened in AWS:")
            print(changes_and_events([*policies, *rightsizings]))
            if once:
                ready = [r.ready for _, r in policies] + [r.ready for _, r in rightsizings]
                return 0 if all(ready) else 1
            print(f"\nNext sweep in {interval:g}s (Ctrl-C to stop)")
            time.sleep(interval)
    except KeyboardInterrupt:
        print("\nStopped.")
        return 0
