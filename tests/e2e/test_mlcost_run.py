"""`mlcost run` started the way users start it: a separate process that finds the cluster in
KUBECONFIG, reconciles a policy, and serves /metrics and /healthz."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import socket
import sys
import urllib.request
from pathlib import Path

import pytest

from mlcost.embedded.server import EmbeddedAws
from tests.kube.fake_api import FakeKubeAPI
from tests.operator.test_policy_operator import NAME, NS, PLURAL, POLICY, ready_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {{server: "{server}", insecure-skip-tls-verify: true}}
users:
- name: tester
  user: {{token: test-token}}
contexts:
- name: fake
  context: {{cluster: fake, user: tester, namespace: default}}
current-context: fake
"""
    )
    return path


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture
def aws(embedded_aws: EmbeddedAws) -> EmbeddedAws:
    embedded_aws.reset()
    return embedded_aws


async def test_mlcost_run_reconciles_and_serves_metrics(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path
) -> None:
    metrics_port, health_port = free_port(), free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig(tmp_path / "kubeconfig", kube.url)),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "MLCOST_AWS_ENDPOINT_URL": aws.endpoint_url,
        "MLCOST_METRICS_PORT": str(metrics_port),
        "MLCOST_HEALTH_PORT": str(health_port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mlcost",
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await kube.wait_until(lambda: bool(kube.watches(PLURAL)), timeout=30)
        kube.create(copy.deepcopy(POLICY))
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=30)

        metrics = await asyncio.to_thread(http_get, f"http://127.0.0.1:{metrics_port}/metrics")
        assert (
            'mlcost_budget_limit_usd{budget="team-fraud-ml",namespace="team-fraud",'
            'policy="fraud-detection"} 5000.0' in metrics
        )
        assert (
            'mlcost_aws_api_calls_total{operation="CreateBudget",outcome="success",service="budgets"} 1.0'
            in metrics
        )
        assert 'mlcost_reconcile_total{kind="MLCostPolicy",outcome="success"}' in metrics
        assert await asyncio.to_thread(http_get, f"http://127.0.0.1:{health_port}/healthz")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        except TimeoutError:
            process.kill()
            raise
    assert process.returncode == 0, output.decode()[-3000:]
