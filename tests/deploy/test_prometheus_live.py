"""A real Prometheus scrapes `mlcost demo` as the Prometheus Operator would through our ServiceMonitor.

The scrape config is the one the Prometheus Operator generates for deploy/monitoring/servicemonitor.yaml
(its relabelings, honor_labels from honorLabels), with the Kubernetes service-discovery labels of the
operator's Service and pod given as static target labels, so every target label the operator adds
(namespace, service, pod, endpoint, job, instance, container) reaches the samples. Then every dashboard
query and every alert runs against it through Prometheus' HTTP API.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcost.api.v1alpha1.mlcostreport import SageMakerUsage
from mlcost.embedded import seed as demo_seed

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy/monitoring"
PROMETHEUS = shutil.which("prometheus")

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus not installed (Debian package prometheus, which .ci/run installs with promtool)",
)

# Short for the test only; everything else is as generated. The real 60s is checked below.
SCRAPE_INTERVAL = "1s"
RATE_WINDOW = "30s"  # stands in for Grafana's $__rate_interval
DEADLINE = 40.0  # seconds any one wait may take
# The demo seeds its embedded AWS before it serves /metrics: seconds on an idle machine, 30s seen
# on a loaded two-core one.
DEMO_DEADLINE = 60.0
POD_SUFFIX = "-5d8f7c9b4-x7k2p"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out after {deadline:g}s waiting for {what}")


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def manifests(directory: Path) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(directory.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
    return docs


def selects(selector: dict[str, str], labels: dict[str, str] | None) -> bool:
    return all((labels or {}).get(key) == value for key, value in selector.items())


def sanitize(label: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


@dataclass(frozen=True)
class Target:
    """What the operator's Kubernetes objects give the scrape: namespace, Service, pod, container."""

    namespace: str
    service: str
    service_labels: dict[str, str]
    port_name: str
    pod: str
    container: str


def operator_target(service_monitor: dict[str, Any]) -> Target:
    """The Service the ServiceMonitor selects and the pod behind it, found as the operator finds them."""
    namespace = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())["namespace"]
    selector = service_monitor["spec"]["selector"]["matchLabels"]
    port_name = service_monitor["spec"]["endpoints"][0]["port"]
    objects = manifests(ROOT / "deploy")
    service = next(
        o
        for o in objects
        if o["kind"] == "Service"
        and selects(selector, o["metadata"].get("labels"))
        and any(p.get("name") == port_name for p in o["spec"]["ports"])
    )
    target_port = next(p for p in service["spec"]["ports"] if p["name"] == port_name)["targetPort"]
    deployment = next(
        o
        for o in objects
        if o["kind"] == "Deployment"
        and selects(service["spec"]["selector"], o["spec"]["template"]["metadata"]["labels"])
    )
    container = next(
        c
        for c in deployment["spec"]["template"]["spec"]["containers"]
        if any(p.get("name") == target_port for p in c.get("ports", []))
    )
    return Target(
        namespace=namespace,
        service=service["metadata"]["name"],
        service_labels=service["metadata"].get("labels", {}),
        port_name=port_name,
        pod=deployment["metadata"]["name"] + POD_SUFFIX,
        container=container["name"],
    )


def generated_scrape_config(
    service_monitor: dict[str, Any], target: Target, address: str, interval: str
) -> dict[str, Any]:
    """The Prometheus Operator's scrape config for endpoint 0 of the ServiceMonitor.

    Relabelings as in prometheus-operator's pkg/prometheus/promcfg.go (golden file
    testdata/NoEnforcedNamespaceLabelServiceMonitor_Expected.golden); the `__meta_kubernetes_*`
    labels that kubernetes_sd_configs (role endpoints) would discover are set on a static target.
    """
    endpoint = service_monitor["spec"]["endpoints"][0]
    relabel: list[dict[str, Any]] = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
    for key, value in service_monitor["spec"]["selector"]["matchLabels"].items():
        relabel.append(
            {
                "action": "keep",
                "source_labels": [
                    f"__meta_kubernetes_service_label_{sanitize(key)}",
                    f"__meta_kubernetes_service_labelpresent_{sanitize(key)}",
                ],
                "regex": f"({value});true",
            }
        )
    relabel += [
        {
            "action": "keep",
            "source_labels": ["__meta_kubernetes_endpoint_port_name"],
            "regex": endpoint["port"],
        },
        {
            "source_labels": [
                "__meta_kubernetes_endpoint_address_target_kind",
                "__meta_kubernetes_endpoint_address_target_name",
            ],
            "separator": ";",
            "regex": "Node;(.*)",
            "replacement": "${1}",
            "target_label": "node",
        },
        {
            "source_labels": [
                "__meta_kubernetes_endpoint_address_target_kind",
                "__meta_kubernetes_endpoint_address_target_name",
            ],
            "separator": ";",
            "regex": "Pod;(.*)",
            "replacement": "${1}",
            "target_label": "pod",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"},
        {"target_label": "endpoint", "replacement": endpoint["port"]},
    ]
    discovered = {
        "__meta_kubernetes_namespace": target.namespace,
        "__meta_kubernetes_service_name": target.service,
        "__meta_kubernetes_endpoint_port_name": target.port_name,
        "__meta_kubernetes_endpoint_address_target_kind": "Pod",
        "__meta_kubernetes_endpoint_address_target_name": target.pod,
        "__meta_kubernetes_pod_name": target.pod,
        "__meta_kubernetes_pod_container_name": target.container,
        "__meta_kubernetes_pod_phase": "Running",
    }
    for key, value in target.service_labels.items():
        discovered[f"__meta_kubernetes_service_label_{sanitize(key)}"] = value
        discovered[f"__meta_kubernetes_service_labelpresent_{sanitize(key)}"] = "true"
    return {
        "job_name": f"serviceMonitor/{target.namespace}/{service_monitor['metadata']['name']}/0",
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "honor_timestamps": True,
        "scrape_interval": interval,
        "metrics_path": endpoint.get("path", "/metrics"),
        "scheme": endpoint.get("scheme", "http"),
        "static_configs": [{"targets": [address], "labels": discovered}],
        "relabel_configs": relabel,
    }


@dataclass
class Live:
    url: str
    target: Target
    teams: set[str]  # namespaces of the examples: the teams', and the MLCostReport's
    endpoints: set[str]
    kinds: dict[str, set[str]]  # kind -> namespaces of its examples

    def query(self, expr: str) -> dict[str, Any]:
        body: dict[str, Any] = get(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        return body

    def series(self, expr: str) -> list[dict[str, Any]]:
        body = self.query(expr)
        assert body["status"] == "success", f"{expr}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


def stop(process: subprocess.Popen[bytes], first: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(first)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("prometheus")
    service_monitor = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
    target = operator_target(service_monitor)
    examples = manifests(ROOT / "examples")
    teams = {doc["metadata"]["namespace"] for doc in examples}
    kinds: dict[str, set[str]] = {}
    for doc in examples:
        kinds.setdefault(doc["kind"], set()).add(doc["metadata"]["namespace"])
    endpoints = {doc["spec"]["endpointName"] for doc in examples if doc["kind"] == "EndpointRightsizing"}

    demo_port, prometheus_port = free_port(), free_port()
    demo_log = (tmp / "demo.log").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "-m", "mlcost", "demo", "--metrics-port", str(demo_port), "--interval", "2"],
        cwd=ROOT,
        stdout=demo_log,
        stderr=subprocess.STDOUT,
    )
    prometheus: subprocess.Popen[bytes] | None = None
    try:
        metrics_url = f"http://127.0.0.1:{demo_port}/metrics"

        def demo_serves() -> bool:
            if demo.poll() is not None:
                pytest.fail(f"mlcost demo exited with {demo.returncode}:\n{(tmp / 'demo.log').read_text()}")
            return answers(metrics_url)

        wait_for("mlcost demo's /metrics", demo_serves, deadline=DEMO_DEADLINE)

        rules = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
        (tmp / "rules.yaml").write_text(yaml.safe_dump({"groups": rules["spec"]["groups"]}))
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [str(tmp / "rules.yaml")],
            "scrape_configs": [
                generated_scrape_config(service_monitor, target, f"127.0.0.1:{demo_port}", SCRAPE_INTERVAL)
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        assert PROMETHEUS is not None
        prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--log.level=warn",
            ],
            stdout=(tmp / "prometheus.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{prometheus_port}"

        def prometheus_ready() -> bool:
            if prometheus is not None and prometheus.poll() is not None:
                pytest.fail(f"prometheus exited:\n{(tmp / 'prometheus.log').read_text()}")
            return answers(f"{url}/-/ready")

        wait_for("Prometheus to be ready", prometheus_ready)
        state = Live(url, target, teams, endpoints, kinds)

        # Both kinds reconciled and scraped often enough for a rate over RATE_WINDOW.
        def scraped() -> bool:
            demo_serves()  # fails at once, with its output, should the demo die mid-way
            kinds = state.series(
                f"count_over_time(mlcost_reconcile_total{{outcome='success'}}[{RATE_WINDOW}])"
            )
            figures = {s["metric"]["__name__"] for s in state.series(" or ".join(FIGURES))}
            return (
                figures == set(FIGURES) and len(kinds) == 3 and all(float(s["value"][1]) >= 3 for s in kinds)
            )

        wait_for("three scrapes of every kind's reconciles and of each kind's figures", scraped)
        yield state
    finally:
        if prometheus is not None:
            stop(prometheus, signal.SIGTERM)
        stop(demo, signal.SIGINT)
        demo_log.close()


def dashboard_queries(namespace: str) -> list[tuple[str, str]]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$namespace", namespace).replace("$__rate_interval", RATE_WINDOW)
            assert "$" not in expr, f"{panel['title']!r}: a Grafana variable the test does not know: {expr}"
            queries.append((panel["title"], expr))
    return queries


# Nothing in the demo is throttled, so this panel is rightly empty; every other one has data.
MAY_BE_EMPTY = {"AWS throttled attempts per second"}
# The teams whose SageMaker spend the demo seeds (untagged spend besides).
DEMO_TEAMS = {demo_seed.FRAUD_TAGS["team"], *(team for team, _, _ in demo_seed.OTHER_TEAMS_DAILY if team)}
# One figure of each kind: the policies' budget, the rightsizing's endpoint, the MLCostReport's
# showback and Savings Plans.
FIGURES = (
    "mlcost_endpoint_hourly_cost_usd",
    "mlcost_budget_limit_usd",
    "mlcost_spend_usd",
    "mlcost_savings_plan_utilization_percent",
)


def test_the_service_monitor_scrapes_every_60s_and_honours_our_labels() -> None:
    endpoint = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())["spec"]["endpoints"][0]
    assert endpoint["interval"] == "60s"
    assert endpoint["honorLabels"] is True


# The MLCostReport's metrics, which live in the report's namespace and not in a team's.
REPORT_METRIC = re.compile(r"\bmlcost_(?:spend|savings_plan)_")


@pytest.mark.parametrize("selected", ["all", "team", "report"])
def test_every_dashboard_query_parses_and_returns_the_operators_labels(live: Live, selected: str) -> None:
    namespace = {
        "all": ".*",
        "team": sorted(live.kinds["MLCostPolicy"])[0],
        "report": sorted(live.kinds["MLCostReport"])[0],
    }[selected]
    for title, expr in dashboard_queries(namespace):
        body = live.query(expr)
        assert body["status"] == "success", f"{title!r}: {expr}: {body.get('error')}"
        result = body["data"]["result"]
        # A team's namespace has no report, the report's namespace no policy: their panels are
        # rightly empty there. Operator panels and the objects table have data everywhere.
        filtered = '=~"' in expr and "mlcost_object_ready" not in expr
        elsewhere = filtered and (
            (selected == "team" and REPORT_METRIC.search(expr))
            or (selected == "report" and not REPORT_METRIC.search(expr))
        )
        if title not in MAY_BE_EMPTY and not elsewhere:
            assert result, f"{title!r} shows no data: {expr}"
        if selected == "report" and not filtered and REPORT_METRIC.search(expr):
            pytest.fail(f"{title!r} ignores $namespace: {expr}")
        for series in result:
            labels = series["metric"]
            assert not [k for k in labels if k.startswith("exported_")], f"{title!r}: {labels}"
            if "namespace" in labels:
                assert labels["namespace"] in live.teams, f"{title!r} is labelled with {labels}"
            if "endpoint" in labels:
                assert labels["endpoint"] in live.endpoints, f"{title!r} is labelled with {labels}"


def test_aws_calls_panel_splits_by_aws_service(live: Live) -> None:
    (expr,) = [e for t, e in dashboard_queries(".*") if t == "AWS calls per second by service and outcome"]
    services = {s["metric"]["service"] for s in live.series(expr)}
    assert {"budgets", "ce", "sagemaker", "cloudwatch"} <= services
    assert live.target.service not in services


def test_namespace_variable_lists_team_namespaces(live: Live) -> None:
    query = urllib.parse.urlencode({"match[]": "mlcost_object_ready"})
    values = get(f"{live.url}/api/v1/label/namespace/values?{query}")["data"]
    assert set(values) == live.teams
    # Each kind's objects under their own namespaces, never the scraping target's: the report's
    # namespace (the operator's own here) is listed because an MLCostReport lives there, alone.
    for kind, namespaces in live.kinds.items():
        ready = live.series(f'mlcost_object_ready{{kind="{kind}"}}')
        assert {s["metric"]["namespace"] for s in ready} == namespaces, kind
    (report_namespace,) = live.kinds["MLCostReport"]
    assert report_namespace in values
    assert all(report_namespace not in ns for kind, ns in live.kinds.items() if kind != "MLCostReport")


def test_samples_keep_our_labels_and_the_operator_pods_identity(live: Live) -> None:
    samples = live.series('{__name__=~"mlcost_.+"}')
    names = {s["metric"]["__name__"] for s in samples}
    assert {"mlcost_budget_limit_usd", "mlcost_endpoint_hourly_cost_usd", "mlcost_object_ready"} <= names
    for series in samples:
        labels = series["metric"]
        assert not [k for k in labels if k.startswith("exported_")], labels
        # The target labels that do not clash with ours say which operator pod served the sample.
        assert labels["pod"] == live.target.pod
        assert labels["job"] == live.target.service
        assert labels["container"] == live.target.container
        assert labels["instance"].startswith("127.0.0.1:")
    budget = live.series("mlcost_budget_limit_usd")[0]["metric"]
    assert budget["namespace"] in live.teams and budget["endpoint"] == live.target.port_name
    endpoint = live.series("mlcost_endpoint_monthly_savings_usd")[0]["metric"]
    assert endpoint["endpoint"] in live.endpoints and endpoint["namespace"] in live.teams
    call = live.series('mlcost_aws_api_calls_total{service="budgets"}')[0]["metric"]
    assert call["namespace"] == live.target.namespace  # no label of its own: the operator's
    reconcile = live.series("mlcost_reconcile_total")[0]["metric"]
    assert reconcile["service"] == live.target.service and reconcile["namespace"] == live.target.namespace


def panel_series(live: Live, title: str, namespace: str = ".*") -> list[list[dict[str, Any]]]:
    """The series of each query of the panel titled `title`."""
    exprs = [e for t, e in dashboard_queries(namespace) if t == title]
    assert exprs, f"no panel titled {title!r}"
    return [live.series(expr) for expr in exprs]


@pytest.mark.parametrize(
    ("title", "label"),
    [
        ("Spend this period by team, stacked (USD)", "group"),
        ("Spend this period by SageMaker usage, stacked (USD)", "usage"),
    ],
)
def test_showback_panels_stack_the_demos_spend(live: Live, title: str, label: str) -> None:
    (series,) = panel_series(live, title)
    values = {s["metric"][label] for s in series}
    assert all(set(s["metric"]) == {label} for s in series), series  # one stack per group or usage
    (group_by,) = {s["metric"]["group_by"] for s in live.series("mlcost_spend_usd")}
    if label == "group":
        # The demo's teams, and the untagged spend as its own group, never dropped.
        assert f"no {group_by}" in values
        assert values - {f"no {group_by}"} <= DEMO_TEAMS, values
        assert len(values) >= 3
    else:
        assert values <= {u.value for u in SageMakerUsage}, values
        assert {"Hosting", "Training"} <= values
    # The stacks add up to the total Cost Explorer reports ungrouped (cents rounded per group).
    stacked = sum(float(s["value"][1]) for s in series)
    ((total,),) = panel_series(live, "SageMaker spend: total vs forecast (USD)")[:1]
    assert stacked == pytest.approx(float(total["value"][1]), abs=0.01 * len(series)), (stacked, total)


def test_savings_plans_panels_show_the_demos_plan_and_recommendation(live: Live) -> None:
    (report_namespace,) = live.kinds["MLCostReport"]
    for title in (
        "Savings Plans utilization and coverage (%)",
        "Recommended Savings Plan: saving (USD/month)",
        "Recommended Savings Plan: commitment (USD/h)",
        "Untagged spend share (%)",
    ):
        for series in panel_series(live, title, report_namespace):
            assert series, title
            for one in series:
                assert one["metric"]["namespace"] == report_namespace, (title, one)
                assert 0 < float(one["value"][1]) <= (100 if "%" in title else 1e6), (title, one)
    commitment, ends, days_left = panel_series(live, "Active Savings Plans: commitment and expiry")
    assert {s["metric"]["savings_plan_id"] for s in commitment} == {
        s["metric"]["savings_plan_id"] for s in ends
    }
    assert all(float(s["value"][1]) > 0 for s in commitment)
    # Ends is in milliseconds for Grafana's date unit; days left counts from now.
    for end, left in zip(ends, days_left, strict=True):
        assert float(end["value"][1]) / 1000 == pytest.approx(
            time.time() + float(left["value"][1]) * 86400, abs=120
        )
        assert float(left["value"][1]) > 0


def test_the_demos_expiring_plan_raises_one_alert_naming_the_report(live: Live) -> None:
    """The demo's plan ends in three weeks: MLCostSavingsPlanExpiring is pending (for: 1h) at once."""
    (report_namespace,) = live.kinds["MLCostReport"]

    def expiring() -> list[dict[str, Any]]:
        alerts = get(f"{live.url}/api/v1/alerts")["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "MLCostSavingsPlanExpiring"]

    wait_for("MLCostSavingsPlanExpiring to be pending", lambda: bool(expiring()), deadline=10)
    (alert,) = expiring()
    assert alert["state"] in {"pending", "firing"}
    labels = alert["labels"]
    assert labels["namespace"] == report_namespace and labels["report"]
    assert labels["savings_plan_id"].startswith("sp-")
    assert not {"pod", "instance", "job"} & set(labels)  # aggregated: one alert for any number of replicas
    assert f"MLCostReport {report_namespace}/{labels['report']}" in alert["annotations"]["description"]
    firing = {a["labels"]["alertname"] for a in get(f"{live.url}/api/v1/alerts")["data"]["alerts"]}
    # The demo's plan is used at 92%, over the 90% threshold.
    assert "MLCostSavingsPlanUtilizationLow" not in firing


def test_every_alert_parses_and_evaluates(live: Live) -> None:
    rules = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    alerts = [rule for group in rules["spec"]["groups"] for rule in group["rules"]]
    for rule in alerts:
        body = live.query(rule["expr"])
        assert body["status"] == "success", f"{rule['alert']}: {body.get('error')}"

    def evaluated() -> bool:
        groups = get(f"{live.url}/api/v1/rules")["data"]["groups"]
        loaded = [r for g in groups for r in g["rules"]]
        return len(loaded) == len(alerts) and all(r["health"] == "ok" for r in loaded)

    wait_for("Prometheus to evaluate every alert rule", evaluated, deadline=10)
    groups = get(f"{live.url}/api/v1/rules")["data"]["groups"]
    assert [r.get("lastError", "") for g in groups for r in g["rules"]] == [""] * len(alerts)
