"""The shipped alerts and Grafana dashboard query what the operator exports, the way Grafana needs it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcost.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\bmlcost_[a-z_]+\b")
# Metrics whose `namespace` label is the object's (a team's, or an MLCostReport's): every
# selector of one must follow $namespace.
TEAM_METRIC = re.compile(
    r"\b(mlcost_(?:budget|compliance|governed|idle|spot|endpoint|actions|object|spend|savings_plan)_[a-z_]*)"
    r"(\{[^}]*\})?"
)


def seconds(duration: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([smh])", duration).groups()  # type: ignore[union-attr]
    return int(number) * {"s": 1, "m": 60, "h": 3600}[unit]


def exported_names() -> set[str]:
    names = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        names.update(
            {f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
        )
    return names


def dashboard() -> dict[str, Any]:
    return json.loads((ROOT / "deploy/monitoring/grafana-dashboard.json").read_text())  # type: ignore[no-any-return]


def query_panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def variable(name: str) -> dict[str, Any]:
    return next(v for v in dashboard()["templating"]["list"] if v["name"] == name)


def queried_names() -> set[str]:
    rules = yaml.safe_load((ROOT / "deploy/monitoring/prometheusrule.yaml").read_text())
    exprs = [rule["expr"] for group in rules["spec"]["groups"] for rule in group["rules"]]
    exprs += [target["expr"] for panel in query_panels() for target in panel["targets"]]
    exprs += [v["query"] for v in dashboard()["templating"]["list"] if "label_values" in str(v.get("query"))]
    return {name for expr in exprs for name in METRIC.findall(expr)}


def test_alerts_and_dashboard_query_exported_metrics() -> None:
    queried = queried_names()
    assert len(queried) >= 10
    assert queried - exported_names() == set()


def test_namespace_variable_lists_every_object_and_has_an_all_fallback() -> None:
    namespace = variable("namespace")
    # mlcost_object_ready has a series for every policy and rightsizing, budget-only ones too.
    assert namespace["query"] == "label_values(mlcost_object_ready, namespace)"
    assert namespace["includeAll"] is True
    assert namespace["allValue"] == ".*"
    assert namespace["multi"] is True
    assert variable("datasource")["type"] == "datasource"
    assert variable("datasource")["query"] == "prometheus"


@pytest.mark.parametrize("panel", query_panels(), ids=lambda p: p["title"])
def test_panel_is_filtered_labelled_and_formatted(panel: dict[str, Any]) -> None:
    service_monitor = yaml.safe_load((ROOT / "deploy/monitoring/servicemonitor.yaml").read_text())
    scrape_interval = service_monitor["spec"]["endpoints"][0]["interval"]
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    # Grafana's $__rate_interval is max($__interval + min step, 4 x min step): a min step of one
    # scrape interval keeps every rate window wide enough to hold two samples.
    assert seconds(panel["interval"]) == seconds(scrape_interval) == 60
    for target in panel["targets"]:
        assert target["datasource"] == panel["datasource"]
        assert seconds(target["interval"]) == seconds(scrape_interval)
        for name, selector in TEAM_METRIC.findall(target["expr"]):
            assert 'namespace=~"$namespace"' in selector, f"{name} in {panel['title']!r} ignores $namespace"
        legend = target.get("legendFormat", "")
        assert "__name__" not in legend and not legend.startswith("mlcost_"), panel["title"]
        if panel["type"] == "table":
            assert target.get("instant") is True and target.get("format") == "table", panel["title"]
        if panel["type"] == "timeseries":
            assert target["legendFormat"], f"{panel['title']!r} needs a legend per series"
    unit = panel["fieldConfig"]["defaults"]["unit"]
    if "(USD" in panel["title"]:
        assert unit == "currencyUSD", panel["title"]
        assert "* 100" not in json.dumps(panel["targets"]), f"{panel['title']!r} plots a percentage"
    if "(%)" in panel["title"]:
        assert unit == "percent", panel["title"]


def test_lead_questions_have_panels() -> None:
    exprs = {panel["title"]: " ".join(t["expr"] for t in panel["targets"]) for panel in query_panels()}
    spend_vs_limit = [t for t, e in exprs.items() if "actual_spend" in e and "limit_usd" in e and "USD" in t]
    forecast_vs_limit = [t for t, e in exprs.items() if "forecasted" in e and "limit_usd" in e and "USD" in t]
    assert spend_vs_limit and forecast_vs_limit
    violations = " ".join(e for e in exprs.values() if "mlcost_compliance_violations" in e)
    assert "by (rule)" in violations and "by (namespace)" in violations
    assert any("mlcost_idle_endpoint_waste_usd" in e for e in exprs.values())
    assert any("mlcost_spot_savings_percent" in e for e in exprs.values())
    assert any("mlcost_endpoint_monthly_savings_usd" in e for e in exprs.values())
    assert any("mlcost_reconcile_total" in e for e in exprs.values())
    assert any("mlcost_object_ready" in e for e in exprs.values())


def panel_with(metric: str, by: str | None = None) -> dict[str, Any]:
    for panel in query_panels():
        exprs = " ".join(t["expr"] for t in panel["targets"])
        if metric in exprs and (by is None or f"sum by ({by})" in exprs):
            return panel
    raise AssertionError(f"no panel shows {metric}" + (f" summed by {by}" if by else ""))


@pytest.mark.parametrize("by", ["group", "usage"])
def test_showback_stacks_spend_by_group_and_by_usage(by: str) -> None:
    panel = panel_with("mlcost_spend_usd", by)
    assert panel["type"] == "timeseries"
    assert panel["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    (target,) = panel["targets"]
    assert target["legendFormat"] == "{{" + by + "}}"
    # Two replicas export the same groups: de-duplicate on every label of ours before summing.
    assert "max by (namespace, report, group_by, group, usage)" in target["expr"]


def test_savings_plans_and_untagged_share_have_panels() -> None:
    for metric in (
        "mlcost_spend_total_usd",
        "mlcost_spend_forecast_usd",
        "mlcost_spend_untagged_percent",
        "mlcost_savings_plan_utilization_percent",
        "mlcost_savings_plan_coverage_percent",
        "mlcost_savings_plan_recommended_monthly_savings_usd",
        "mlcost_savings_plan_recommended_hourly_commitment_usd",
    ):
        panel_with(metric)
    plans = panel_with("mlcost_savings_plan_commitment_usd_per_hour")
    assert plans["type"] == "table"
    exprs = [t["expr"] for t in plans["targets"]]
    assert any("mlcost_savings_plan_end_timestamp_seconds" in e and "- time()) / 86400" in e for e in exprs)
    columns = plans["transformations"][-1]["options"]["renameByName"]
    assert {"Commitment (USD/h)", "Ends", "Days left", "Savings Plan"} <= set(columns.values())
    row = next(p for p in dashboard()["panels"] if p["type"] == "row" and p["title"].startswith("Showback"))
    assert "Savings Plans" in row["title"]


def test_throttles_and_latency_are_not_on_one_axis() -> None:
    for panel in query_panels():
        exprs = " ".join(t["expr"] for t in panel["targets"])
        assert not ("throttles" in exprs and "duration_seconds" in exprs), panel["title"]
