"""`mlcost run` started the way users start it: a separate process that finds the cluster in
KUBECONFIG, creates and joins the peering, reconciles a policy, serves /metrics and /healthz, fails fast
on what cannot heal, and logs one line per event (text or JSON) for a log pipeline."""

from __future__ import annotations

import asyncio
import copy
import http.server
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web
import pytest

from mlcost.embedded.server import EmbeddedAws
from tests.kube.fake_api import FakeKubeAPI
from tests.kube.harness import declare_peering, peering_crds
from tests.operator.test_policy_operator import (
    NAME,
    NS,
    PLURAL,
    POLICY,
    pretend_last_sweep_was_long_ago,
    ready_for,
    swept_recently,
)

PEERING = "mlcost"


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


def operator_env(kube: FakeKubeAPI, endpoint_url: str, tmp_path: Path, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(kubeconfig(tmp_path / "kubeconfig", kube.url)),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "MLCOST_AWS_ENDPOINT_URL": endpoint_url,
        "MLCOST_METRICS_PORT": str(free_port()),
        "MLCOST_HEALTH_PORT": str(free_port()),
        **settings,
    }


async def start(env: Mapping[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mlcost",
        "run",
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM (what Kubernetes sends), then everything the process logged."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    except TimeoutError:
        process.kill()
        raise
    return output.decode()


async def policy_reconciled(kube: FakeKubeAPI, ready: str = "True") -> None:
    """Once the operator watches policies: create POLICY and wait until it is reconciled, Ready `ready`."""
    await kube.wait_until(lambda: bool(kube.watches(PLURAL)), timeout=30)
    kube.create(copy.deepcopy(POLICY))
    await kube.wait_for(PLURAL, NS, NAME, ready_for(1, ready), timeout=30)


def install_peering_crds(kube: FakeKubeAPI) -> None:
    for crd in peering_crds():
        kube.create(crd)


async def test_mlcost_run_reconciles_and_serves_metrics(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path
) -> None:
    declare_peering(kube, PEERING)  # the default: join the ClusterKopfPeering "mlcost"
    env = operator_env(kube, aws.endpoint_url, tmp_path)
    metrics_port, health_port = env["MLCOST_METRICS_PORT"], env["MLCOST_HEALTH_PORT"]
    process = await start(env)
    try:
        await policy_reconciled(kube)

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
        output = await stop(process)
    assert process.returncode == 0, output[-3000:]
    # One line per event: logging.basicConfig and kopf's handler once printed each line twice.
    lines = output.splitlines()
    assert len([line for line in lines if "Joining the peering ClusterKopfPeering 'mlcost'" in line]) == 1
    assert len([line for line in lines if "Handler 'reconcile_policy' succeeded." in line]) == 1, output


@pytest.mark.parametrize("setting", ["MLCOST_METRICS_PORT", "MLCOST_HEALTH_PORT"])
async def test_a_taken_port_fails_fast_with_what_to_do(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path, setting: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = operator_env(kube, aws.endpoint_url, tmp_path, **{setting: str(port)})
        started = time.monotonic()
        process = await start(env)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    # Not kopf's retry of the startup handler every 60 s while the pod looks alive.
    assert process.returncode == 1
    assert time.monotonic() - started < 15
    errors = [line for line in output.decode().splitlines() if " ERROR " in line]
    assert len(errors) == 1, output.decode()
    assert f"port {port}" in errors[0] and "in use" in errors[0] and setting in errors[0]
    assert not kube.watches(), "it must exit before it starts serving"


async def test_an_unreadable_price_file_fails_fast(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("instance_type,not,the,shipped,columns\nml.m5.large,1,2,3,4\n")
    env = operator_env(kube, aws.endpoint_url, tmp_path, MLCOST_PRICE_CATALOGUE=str(prices))
    process = await start(env, "--log-format", "json")
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 1
    (entry,) = [json.loads(line) for line in output.decode().splitlines()]
    assert entry["level"] == "ERROR"
    assert "MLCOST_PRICE_CATALOGUE" in entry["message"] and str(prices) in entry["message"]


def json_lines(output: str) -> list[dict[str, Any]]:
    entries = []
    for line in output.splitlines():
        entry = json.loads(line)  # every line, kopf's included: one JSON object per line
        assert {"time", "level", "logger", "message"} <= entry.keys(), line
        entries.append(entry)
    return entries


async def test_json_logs_with_the_object_and_quiet_idle_timers(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path
) -> None:
    declare_peering(kube, PEERING)
    env = operator_env(kube, aws.endpoint_url, tmp_path, MLCOST_TICK="200ms")
    process = await start(env, "--log-format", "json")
    try:
        await policy_reconciled(kube)
        await asyncio.sleep(2)  # ten ticks of the resync scheduler with nothing due
        # Then a resync that is due: real work, which still logs.
        pretend_last_sweep_was_long_ago(kube)
        await kube.wait_for(PLURAL, NS, NAME, swept_recently, timeout=15)
        await asyncio.sleep(0.5)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output[-3000:]
    entries = json_lines(output)

    about_policy = [e for e in entries if e.get("name") == NAME]
    assert about_policy, output[-3000:]
    assert all(e["namespace"] == NS and e["kind"] == "MLCostPolicy" for e in about_policy)
    assert any(e["message"] == "Handler 'reconcile_policy' succeeded." for e in about_policy)
    resyncs = [e for e in about_policy if e["message"].startswith("Resync succeeded in ")]
    assert len(resyncs) == 1, "only the tick that was due logs; the idle ones log nothing at INFO"
    assert resyncs[0]["level"] == "INFO" and resyncs[0]["logger"] == "mlcost.resync"
    # Nor does the event handler that tells the scheduler when the next resync is due.
    assert not [e for e in entries if "schedule_policy" in e["message"] and e["level"] == "INFO"]


class _HtmlErrorPage(http.server.BaseHTTPRequestHandler):
    """What a proxy or load balancer in front of an AWS endpoint answers when it fails: an HTML
    page, to every JSON-protocol call (budgets, Cost Explorer, SageMaker: botocore keeps such a
    body as the error message). STS still answers, so the operator gets as far as budgets."""

    IDENTITY = (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/test</Arn><UserId>AIDATEST</UserId>"
        "<Account>123456789012</Account></GetCallerIdentityResult>"
        "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    )

    PAGE = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{color:red}</style>"
        "</head><body><h1>502 Bad Gateway</h1>"
        + "<p>The upstream server is unavailable.</p>" * 200
        + "</body></html>"
    )

    def do_POST(self) -> None:
        request = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        identity = b"Action=GetCallerIdentity" in request
        body = (self.IDENTITY if identity else self.PAGE).encode()
        self.send_response(200 if identity else 502)
        self.send_header("Content-Type", "text/xml" if identity else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def html_error_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlErrorPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_an_aws_error_page_is_summarised_in_the_log(
    kube: FakeKubeAPI, html_error_endpoint: str, tmp_path: Path
) -> None:
    declare_peering(kube, PEERING)
    env = operator_env(
        kube, html_error_endpoint, tmp_path, MLCOST_AWS_MAX_ATTEMPTS="1", MLCOST_PRICE_REFRESH="false"
    )
    process = await start(env, "--log-format", "json")
    try:
        await policy_reconciled(kube, "False")
        await asyncio.sleep(0.5)
    finally:
        output = await stop(process)
    entries = json_lines(output)
    failures = [e for e in entries if e["level"] in ("WARNING", "ERROR") and "DescribeBudget" in e["message"]]
    assert failures, output[-3000:]
    # Every line about the failure names the object, whichever logger wrote it.
    assert all(
        (e.get("namespace"), e.get("name"), e.get("kind")) == (NS, NAME, "MLCostPolicy") for e in failures
    )
    for entry in entries:
        text = json.dumps(entry)
        assert "<p>" not in text and "<html" not in text.lower() and "{color:red}" not in text, text[:500]
        assert len(text) < 1500, text[:500]
    # Summarised, not lost: the operation, the status and the page's words.
    assert any("502 Bad Gateway" in e["message"] and "Budget" in e["message"] for e in failures), failures


def warnings_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if " WARNING " in line]


async def test_it_creates_the_missing_clusterkopfpeering_and_acts(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path
) -> None:
    # What `kubectl apply -k deploy/` leaves on a fresh cluster: the CRDs, no peering object
    # (kubectl cannot create one in the same apply as its CRD).
    install_peering_crds(kube)
    process = await start(operator_env(kube, aws.endpoint_url, tmp_path))
    try:
        await policy_reconciled(kube)
        peering = kube.get("clusterkopfpeerings", None, PEERING)
        assert peering is not None
        assert peering["metadata"]["labels"] == {
            "app.kubernetes.io/name": "mlcost-operator",
            "app.kubernetes.io/managed-by": "mlcost-operator",
        }
        # kopf joined the object the operator created: its keep-alive is in the status.
        await kube.wait_for(
            "clusterkopfpeerings", None, PEERING, lambda obj: bool((obj or {}).get("status")), timeout=15
        )
    finally:
        output = await stop(process)
    assert process.returncode == 0, output[-3000:]
    assert not warnings_in(output), output[-3000:]
    assert output.count("Created the ClusterKopfPeering 'mlcost'") == 1, output[-3000:]


async def test_peering_crds_established_just_after_the_pod_started_are_waited_for(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path
) -> None:
    # `kubectl apply -k deploy/` on a fresh cluster: a pod may start before the API server serves
    # the peering CRDs of the same apply.
    process = await start(operator_env(kube, aws.endpoint_url, tmp_path))
    try:
        await kube.wait_until(
            lambda: any(r.plural == "clusterkopfpeerings" for r in kube.requests()), timeout=30
        )
        await asyncio.sleep(2)
        install_peering_crds(kube)
        await policy_reconciled(kube)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output[-3000:]
    assert kube.get("clusterkopfpeerings", None, PEERING) is not None
    assert not warnings_in(output), output[-3000:]


async def test_an_existing_peering_is_left_alone(kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path) -> None:
    declare_peering(kube, PEERING)
    before = len(kube.requests())
    process = await start(operator_env(kube, aws.endpoint_url, tmp_path))
    try:
        await kube.wait_until(lambda: bool(kube.watches(PLURAL)), timeout=30)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output[-3000:]
    assert "Created the" not in output and not warnings_in(output), output[-3000:]
    writes = [r for r in kube.requests()[before:] if r.plural == "clusterkopfpeerings" and r.method == "POST"]
    assert not writes, "an existing peering object needs no `create` (a narrower RBAC still works)"


async def test_with_namespaces_it_creates_a_kopfpeering_in_each(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path
) -> None:
    install_peering_crds(kube)
    other = "team-other"
    kube.ensure_namespace(other)
    process = await start(operator_env(kube, aws.endpoint_url, tmp_path), "-n", NS, "-n", other)
    try:
        await policy_reconciled(kube)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output[-3000:]
    for namespace in (NS, other):
        peering = kube.get("kopfpeerings", namespace, PEERING)
        assert peering is not None, f"no KopfPeering in {namespace}: {output[-3000:]}"
        assert peering["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mlcost-operator"
    assert kube.get("clusterkopfpeerings", None, PEERING) is None, "namespace mode needs no cluster object"
    assert "Joining the peering KopfPeering 'mlcost' in each watched namespace" in output
    assert not warnings_in(output), output[-3000:]


async def test_without_the_peering_crds_it_says_so_once_and_stays_passive(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path
) -> None:
    env = operator_env(kube, aws.endpoint_url, tmp_path, MLCOST_PEERING_LIFETIME="2s")
    process = await start(env)
    try:
        # kopf's discovery has run (it watches the CRDs for new ones) and found no peering CRD.
        await kube.wait_until(lambda: bool(kube.watches("customresourcedefinitions")), timeout=30)
        kube.create(copy.deepcopy(POLICY))
        await asyncio.sleep(2.5)  # what a keep-alive period would have done
    finally:
        output = await stop(process)
    assert process.returncode == 0, output[-3000:]
    (warning,) = warnings_in(output)
    assert "ClusterKopfPeering 'mlcost'" in warning
    assert "clusterkopfpeerings.kopf.dev" in warning and "not installed" in warning
    assert "deploy/peering.yaml" in warning and "--standalone" in warning
    assert "status" not in (kube.get(PLURAL, NS, NAME) or {})  # passive: reconciled nothing
    assert not kube.watches(PLURAL)


@pytest.fixture
async def without_create_rbac(kube: FakeKubeAPI) -> AsyncIterator[str]:
    """The fake behind a proxy that refuses `create` on kopf.dev objects the way an API server
    does for a service account whose role lacks the verb; everything else (watches too) passes."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))

    async def forward(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        if request.method == "POST" and request.path.startswith("/apis/kopf.dev/"):
            plural = request.path.rstrip("/").rsplit("/", 1)[-1]
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f'{plural}.kopf.dev is forbidden: User "system:serviceaccount:mlcost-system:'
                f'mlcost-operator" cannot create resource "{plural}" in API group "kopf.dev" at the '
                "cluster scope",
                "reason": "Forbidden",
                "details": {"group": "kopf.dev", "kind": plural},
                "code": 403,
            }
            return aiohttp.web.json_response(status, status=403)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}}
        async with session.request(
            request.method, f"{kube.url}{request.path_qs}", headers=headers, data=await request.read()
        ) as upstream:
            response = aiohttp.web.StreamResponse(status=upstream.status)
            response.content_type = upstream.content_type
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():  # watch streams, as they come
                await response.write(chunk)
            await response.write_eof()
            return response

    app = aiohttp.web.Application()
    app.router.add_route("*", "/{path:.*}", forward)
    # The forwarded watches never end by themselves: do not wait the default 60 s for them.
    runner = aiohttp.web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await session.close()


async def test_without_the_create_verb_it_names_the_rbac_rule_and_stays_passive(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path, without_create_rbac: str
) -> None:
    install_peering_crds(kube)
    env = {
        **operator_env(kube, aws.endpoint_url, tmp_path),
        "KUBECONFIG": str(kubeconfig(tmp_path / "kubeconfig-proxy", without_create_rbac)),
    }
    process = await start(env)
    try:
        await kube.wait_until(lambda: bool(kube.watches("clusterkopfpeerings")), timeout=30)
        kube.create(copy.deepcopy(POLICY))
        await asyncio.sleep(2)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output[-3000:]
    ours = [line for line in warnings_in(output) if "Could not create" in line]
    assert len(ours) == 1, output[-3000:]
    assert "403 Forbidden" in ours[0] and "`create` on clusterkopfpeerings (group kopf.dev)" in ours[0]
    assert "deploy/rbac.yaml" in ours[0]
    assert kube.get("clusterkopfpeerings", None, PEERING) is None
    assert "status" not in (kube.get(PLURAL, NS, NAME) or {})  # passive: reconciled nothing
    assert not kube.watches(PLURAL)


async def test_standalone_needs_no_peering(kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path) -> None:
    process = await start(operator_env(kube, aws.endpoint_url, tmp_path), "--standalone")
    try:
        await policy_reconciled(kube)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output[-3000:]
    assert "Running standalone" in output
