"""Child process of bench/compare.py: one operator sweep of one MLCostPolicy, in its own process.

    .venv/bin/python bench/operator_sweep.py --endpoint-url URL --policy FILE --cache-dir DIR [--warm]

The reconcile is the operator's (PolicyReconciler, dry run, no spend read), with the endpoint
configs it describes kept in a FileConfigStore under DIR: in a cluster the operator keeps the
same content in a ConfigMap. Every reconcile re-reads the inventory (inventory_max_age=0), as a
resync does once the inventory cache has expired.

The process prints "ready" once imported and set up (after one unmeasured sweep with --warm: a
steady sweep is the second in a process), waits for a line on stdin, so that the parent can
zero the embedded AWS's call counter, sweeps, and prints its findings as one JSON line.
Run in a process of its own, its peak RSS is the sweep's alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import boto3

from mlcost.api.v1alpha1 import MLCostPolicy
from mlcost.aws.config_cache import FileConfigStore
from mlcost.aws.session import AwsSessions
from mlcost.domain.spend import SpendCache
from mlcost.manifests import load_manifests, parse_manifest
from mlcost.reconcile.policy import PolicyReconciler, PolicyResult
from mlcost.reconcile.results import ObjectRef


def findings(result: PolicyResult) -> dict[str, object]:
    """Violations by rule and by resource type, as the plan's JSON summary counts them."""
    if result.outcome.error:
        return {"error": result.outcome.error.message}
    violations = result.governance.evaluation.violations if result.governance else []
    return {
        "findings": len(violations),
        "byRule": dict(Counter(v.rule.value for v in violations)),
        "byResourceType": dict(Counter(v.resource.type.value for v in violations)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--policy", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--warm", action="store_true", help="sweep once before the measured sweep")
    args = parser.parse_args()

    manifest = parse_manifest(load_manifests([args.policy])[0])
    assert isinstance(manifest, MLCostPolicy), f"{args.policy} is not an MLCostPolicy"
    sessions = AwsSessions(
        default_region=args.region,
        endpoint_url=args.endpoint_url,
        base_session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
    )
    reconciler = PolicyReconciler(
        sessions,
        SpendCache(timedelta(hours=1)),
        inventory_max_age=timedelta(0),
        config_store=FileConfigStore(args.cache_dir),
    )
    ref = ObjectRef(manifest.metadata.namespace, manifest.metadata.name, generation=1)
    if args.warm:
        reconciler.reconcile(ref, manifest.spec, None, dry_run=True, read_spend=False)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    result = reconciler.reconcile(ref, manifest.spec, None, dry_run=True, read_spend=False)
    seconds = time.perf_counter() - started
    print(json.dumps({**findings(result), "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
