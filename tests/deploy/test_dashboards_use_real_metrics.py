"""Every metric the shipped alerts and Grafana dashboard query is one the operator exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from mlcost.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\bmlcost_[a-z_]+\b")


def exported_names() -> set[str]:
    names = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        names.update(
            {f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
        )
    return names


def queried_names() -> set[str]:
    rules = yaml.safe_load((ROOT / "deploy/monitoring/prometheusrule.yaml").read_text())
    exprs = [rule["expr"] for group in rules["spec"]["groups"] for rule in group["rules"]]
    dashboard = json.loads((ROOT / "deploy/monitoring/grafana-dashboard.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if "label_values" in str(v.get("query"))]
    return {name for expr in exprs for name in METRIC.findall(expr)}


def test_alerts_and_dashboard_query_exported_metrics() -> None:
    queried = queried_names()
    assert len(queried) >= 10
    assert queried - exported_names() == set()
