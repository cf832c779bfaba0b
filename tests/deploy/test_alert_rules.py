"""The PrometheusRule in deploy/ is valid and fires on what on-call engineers must know (promtool)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus; .ci/run installs it)"
)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    rule = yaml.safe_load((ROOT / "deploy/monitoring/prometheusrule.yaml").read_text())
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


def test_rules_are_valid(rules: Path) -> None:
    run = promtool("check", "rules", str(rules))
    assert run.returncode == 0, run.stdout + run.stderr


def test_alerts_fire_as_expected(rules: Path, tmp_path: Path) -> None:
    tests = (Path(__file__).parent / "alert_rules_test.yaml").read_text().replace("RULES", str(rules))
    test_file = tmp_path / "alert_rules_test.yaml"
    test_file.write_text(tests)

    run = promtool("test", "rules", str(test_file))

    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_is_shown_firing_with_its_texts() -> None:
    """An alert added without a promtool case would ship untested texts and thresholds."""
    rule = yaml.safe_load((ROOT / "deploy/monitoring/prometheusrule.yaml").read_text())
    alerts = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}
    cases = yaml.safe_load((Path(__file__).parent / "alert_rules_test.yaml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in cases
        for case in test["alert_rule_test"]
        if any(alert.get("exp_annotations") for alert in case["exp_alerts"])
    }
    assert alerts - fired == set()
    showback = {"MLCostSavingsPlanExpiring", "MLCostSavingsPlanUtilizationLow", "MLCostUntaggedSpendHigh"}
    assert showback <= alerts
