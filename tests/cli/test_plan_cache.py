"""`mlcost plan` describes endpoint configs only for endpoint rules, and keeps them between runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlcost.embedded.server import EmbeddedAws
from tests.cli.test_plan_output import plan, valid_json
from tests.conftest import client_of
from tests.reconcile.test_governance import endpoint

TYPES = """\
apiVersion: mlcost.io/v1alpha1
kind: MLCostPolicy
metadata: {name: fraud-endpoints, namespace: team-fraud}
spec:
  scope: {tags: {team: fraud}}
  endpoints: {allowedInstanceTypes: [ml.c5.large]}
"""
TAGS = """\
apiVersion: mlcost.io/v1alpha1
kind: MLCostPolicy
metadata: {name: fraud-tags, namespace: team-fraud}
spec:
  scope: {tags: {team: fraud}}
  tagging: {required: [{key: cost-center}]}
"""


@pytest.fixture
def endpoints(embedded_aws: EmbeddedAws) -> EmbeddedAws:
    embedded_aws.reset()
    sagemaker = client_of(embedded_aws, "sagemaker")
    for i in range(4):
        endpoint(sagemaker, f"fraud-ep-{i}")
    return embedded_aws


def _manifest(tmp_path: Path, name: str, text: str) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "policy.yaml").write_text(text)
    return directory


def _describes(aws: EmbeddedAws) -> int:
    count = aws.calls()[("sagemaker", "DescribeEndpointConfig")]
    aws.reset_calls()
    return count


def test_a_second_plan_describes_nothing_and_no_cache_describes_again(
    endpoints: EmbeddedAws, tmp_path: Path
) -> None:
    manifests = _manifest(tmp_path, "types", TYPES)
    cache = tmp_path / "cache"
    endpoints.reset_calls()

    _, first = plan(endpoints, manifests, "-o", "json", "--cache-dir", str(cache))
    cold = _describes(endpoints)
    _, second = plan(endpoints, manifests, "-o", "json", "--cache-dir", str(cache))
    warm = _describes(endpoints)
    stored = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    _, bypass = plan(endpoints, manifests, "-o", "json", "--cache-dir", str(cache), "--no-cache")

    # The same four findings (a type not allowed) each time, whatever was cached.
    assert [len(_findings(json.loads(out))) for out in (first, second, bypass)] == [4, 4, 4]
    assert (cold, warm, _describes(endpoints)) == (4, 0, 4)
    assert len(stored) == 1 and {p: p.stat().st_mtime_ns for p in cache.iterdir()} == stored


def test_a_tag_only_plan_describes_no_config_and_says_why_endpoint_costs_are_unknown(
    endpoints: EmbeddedAws, tmp_path: Path
) -> None:
    endpoints.reset_calls()

    code, out = plan(endpoints, _manifest(tmp_path, "tags", TAGS), "-o", "json", "--no-cache")

    assert code == 0  # Audit: findings, no change
    assert _describes(endpoints) == 0
    findings = _findings(valid_json(out))
    assert len(findings) == 4
    assert all(f["monthlyCost"] is None for f in findings)
    assert all("no rule of a policy in this account needs it" in f["costUnknownReason"] for f in findings)


def test_endpoint_configs_always_gives_tag_findings_a_cost(endpoints: EmbeddedAws, tmp_path: Path) -> None:
    endpoints.reset_calls()

    _, out = plan(
        endpoints,
        _manifest(tmp_path, "tags", TAGS),
        "-o",
        "json",
        "--no-cache",
        "--endpoint-configs",
        "always",
    )

    assert _describes(endpoints) == 4
    assert all(f["monthlyCost"] is not None for f in _findings(json.loads(out)))


def _findings(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for o in document["objects"] for f in o["findings"]]


def test_a_mixed_plan_reads_the_account_once(endpoints: EmbeddedAws, tmp_path: Path) -> None:
    # A tag-only policy first, then one with endpoint rules, in one account: the endpoint-rule
    # policy is read first, with its configs, and its inventory serves the tag-only one.
    manifests = tmp_path / "both"
    manifests.mkdir()
    (manifests / "1-tags.yaml").write_text(TAGS)
    (manifests / "2-types.yaml").write_text(TYPES)
    endpoints.reset_calls()

    _, out = plan(endpoints, manifests, "-o", "json", "--no-cache")

    document = json.loads(out)
    assert [o["name"] for o in document["objects"]] == ["fraud-tags", "fraud-endpoints"]  # as given
    calls = endpoints.calls()
    assert calls[("sagemaker", "DescribeEndpointConfig")] == 4
    # One Search for endpoints and one for training jobs: the account's pages read once.
    assert calls[("sagemaker", "Search")] == 2, calls
