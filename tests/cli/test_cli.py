"""The `mlcost` command as a user runs it: validate, plan (exit codes), crds, demo."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mlcost.embedded.server import EmbeddedAws
from tests.conftest import client_of
from tests.reconcile.test_budget_lifecycle import create_foreign_budget
from tests.reconcile.test_governance import notebook
from tests.reconcile.test_rightsizing import sagemaker, scorer

__all__ = ["sagemaker", "scorer"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

POLICY = """\
apiVersion: mlcost.io/v1alpha1
kind: MLCostPolicy
metadata: {name: fraud-detection, namespace: team-fraud}
spec:
  budget:
    limit: "5000"
    notifications:
      - {type: ACTUAL, threshold: "80", emails: [ml-leads@example.com]}
"""


def mlcost(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "mlcost", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_validate_accepts_the_examples() -> None:
    run = mlcost("validate", "-f", str(EXAMPLES))
    assert run.returncode == 0, run.stderr
    assert "3 manifest(s) valid" in run.stdout


def test_validate_names_file_object_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY.replace('limit: "5000"', "limit: 5000"))

    run = mlcost("validate", "-f", str(bad))

    assert run.returncode == 1
    assert str(bad) in run.stderr
    assert "MLCostPolicy team-fraud/fraud-detection" in run.stderr
    assert "spec.budget.limit" in run.stderr


@pytest.fixture
def aws(embedded_aws: EmbeddedAws) -> EmbeddedAws:
    embedded_aws.reset()
    return embedded_aws


def test_plan_exit_codes_follow_pending_changes(
    tmp_path: Path, aws: EmbeddedAws, budgets: Any = None
) -> None:
    manifest = tmp_path / "policy.yaml"
    manifest.write_text(POLICY)

    pending = mlcost("plan", "-f", str(tmp_path), "--endpoint-url", aws.endpoint_url)
    assert pending.returncode == 2, pending.stdout + pending.stderr
    assert "budget team-fraud-fraud-detection: create" in pending.stdout
    assert not [k for k in aws.calls() if k[1] == "CreateBudget"], "plan must not change AWS"

    applied = mlcost("demo", "--once", "--metrics-port", "0", "-f", str(tmp_path))
    assert applied.returncode == 0, applied.stdout + applied.stderr  # its own embedded AWS


def test_plan_reports_no_change_and_errors(tmp_path: Path, aws: EmbeddedAws) -> None:

    manifest = tmp_path / "policy.yaml"
    manifest.write_text(POLICY)
    client = client_of(aws, "budgets")
    create_foreign_budget(client)
    blocked = mlcost("plan", "-f", str(manifest), "--endpoint-url", aws.endpoint_url)
    assert blocked.returncode == 1
    assert "BudgetNotOwned" in blocked.stdout

    client.tag_resource(
        ResourceARN="arn:aws:budgets::123456789012:budget/team-fraud-fraud-detection",
        ResourceTags=[{"Key": "mlcost.io/managed-by", "Value": "team-fraud/fraud-detection"}],
    )
    client.update_budget(
        AccountId="123456789012",
        NewBudget={
            "BudgetName": "team-fraud-fraud-detection",
            "BudgetLimit": {"Amount": "5000", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "CostFilters": {},
        },
    )
    client.create_notification(
        AccountId="123456789012",
        BudgetName="team-fraud-fraud-detection",
        Notification={
            "NotificationType": "ACTUAL",
            "ComparisonOperator": "GREATER_THAN",
            "Threshold": 80.0,
            "ThresholdType": "PERCENTAGE",
        },
        Subscribers=[{"SubscriptionType": "EMAIL", "Address": "ml-leads@example.com"}],
    )
    clean = mlcost("plan", "-f", str(manifest), "--endpoint-url", aws.endpoint_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no change" in clean.stdout


def test_crds_command_writes_what_is_committed(tmp_path: Path) -> None:
    run = mlcost("crds", "-o", str(tmp_path))
    assert run.returncode == 0, run.stderr
    for committed in (ROOT / "crds").glob("*.yaml"):
        assert (tmp_path / committed.name).read_text() == committed.read_text()


def test_demo_once_creates_budget_and_shows_spend() -> None:
    run = mlcost("demo", "--once", "--metrics-port", "0")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "BudgetCreated" in run.stdout
    assert "team-fraud/fraud-detection" in run.stdout
    assert "Seeded: 3 endpoints" in run.stdout
    assert "governs 3 Endpoint, 3 NotebookInstance, 3 TrainingJob" in run.stdout
    assert "Managed Spot saved 66.44% on 2 finished job(s)" in run.stdout
    assert "WouldStop" in run.stdout or "WouldTag" in run.stdout
    # Findings' money is labelled: per month while running, one-off for a finished job, unknown.
    findings = {
        tuple(line.split()[:3]): line for line in run.stdout.splitlines() if line.startswith(("E", "T", "N"))
    }
    assert "  $595.68/month  " in findings[("Endpoint", "fraud-scorer", "InstanceTypeNotAllowed")]
    assert " one-off  " in findings[("TrainingJob", "fraud-dl-2026-11-25", "MaxRuntimeExceeded")]
    unknown = findings[("NotebookInstance", "fraud-gpu-experiments", "InstanceTypeNotAllowed")]
    assert "  unknown  " in unknown
    # ...and why, once: which price is missing and how to supply it.
    assert (
        "  cost unknown: the price catalogue has no price for notebook ml.p3.2xlarge in us-east-1 "
        "(set MLCOST_PRICE_CATALOGUE to supply it)" in run.stdout.splitlines()
    )
    assert (
        "team-fraud/fraud-scorer  AllTraffic  ml.c5.2xlarge x2  595.68   ml.c5.xlarge x1  446.76"
        in run.stdout
    )
    # The example MLCostReport: showback by team and usage, the plan, utilisation, coverage and
    # the recommendation, as seeded (three teams, untagged spend, one plan ending in three weeks).
    out = run.stdout
    assert "REPORT mlcost-system/sagemaker-showback: Ready True" in out
    assert "Seeded showback:" in out and "(fraud, risk, search) and untagged spend" in out
    lines = out.splitlines()
    # The seeded line items are daily, from the 1st of the month to today: so are the sums.
    days = datetime.now(UTC).day

    def month_to_date(daily: str) -> str:
        return f"{Decimal(daily) * days:.2f}"

    row = next(line for line in lines if line.split()[:2] == ["risk", "Processing"])
    assert row.split()[2] == month_to_date("6.50")
    assert any(line.split()[:3] == ["no", "team", "BatchTransform"] for line in lines)
    by_team = next(line for line in lines if line.strip().startswith("by team:"))
    for team, daily in (("no team", "11.90"), ("risk", "36.50"), ("search", "22.20")):
        assert f"{team} {month_to_date(daily)}" in by_team
    assert next(line for line in lines if line.strip().startswith("by usage:")).count(",") == 5
    totals = next(line for line in lines if line.strip().startswith("total "))
    assert "forecast unknown" not in totals and "untagged unknown" not in totals
    assert "sp-0a1b2c3d4e5f60001: 1.50 USD/h, ONE_YEAR, NO_UPFRONT" in out
    assert "utilisation 92.0%" in out and "coverage unknown" not in out
    assert (
        "recommendation (ONE_YEAR, NO_UPFRONT, THIRTY_DAYS): commit 2.10 USD/h, save 437.40 USD/month" in out
    )
    assert "break-even 0 months" in out
    assert "mlcost-system/sagemaker-showback: Warning PlanExpiring" in out


def test_plan_lists_a_report_as_read_only(tmp_path: Path, aws: EmbeddedAws) -> None:
    run = mlcost(
        "plan", "-f", str(EXAMPLES / "mlcostreport-sagemaker.yaml"), "--endpoint-url", aws.endpoint_url
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "MLCostReport mlcost-system/sagemaker-showback: read-only" in run.stdout
    assert not [key for key in aws.calls() if key[0] == "ce"], "plan must not pay for Cost Explorer"


GOVERNED = """\
apiVersion: mlcost.io/v1alpha1
kind: MLCostPolicy
metadata: {name: fraud-detection, namespace: team-fraud}
spec:
  mode: MODE
  scope: {tags: {team: fraud}}
  notebooks: {allowedInstanceTypes: [ml.t3.medium]}
"""


@pytest.mark.parametrize(
    ("mode", "code", "lead"), [("Audit", 0, "Enforce would now"), ("Enforce", 2, "will now")]
)
def test_plan_shows_findings_and_what_enforce_does(
    tmp_path: Path, aws: EmbeddedAws, mode: str, code: int, lead: str
) -> None:
    sagemaker = client_of(aws, "sagemaker")
    notebook(sagemaker, "fraud-gpu", "ml.m5.xlarge", tags={"team": "fraud"})
    (tmp_path / "policy.yaml").write_text(GOVERNED.replace("MODE", mode))

    run = mlcost("plan", "-f", str(tmp_path), "--endpoint-url", aws.endpoint_url)

    assert run.returncode == code, run.stdout + run.stderr
    assert "governs 1 resource(s), 1 violation(s)" in run.stdout
    assert "NotebookInstance fraud-gpu: InstanceTypeNotAllowed" in run.stdout
    assert lead in run.stdout
    assert "marked for InstanceTypeNotAllowed: will stop after the grace period (1d)" in run.stdout
    assert not [k for k in aws.calls() if k[1] in ("AddTags", "StopNotebookInstance")]


RIGHTSIZING = """\
apiVersion: mlcost.io/v1alpha1
kind: EndpointRightsizing
metadata: {name: fraud-scorer, namespace: team-fraud}
spec:
  endpointName: fraud-scorer
  mode: Apply
  candidates: {instanceTypes: [ml.c5.xlarge, ml.c5.2xlarge]}
"""


def test_plan_shows_the_recommendation_and_that_apply_would_act(
    tmp_path: Path, aws: EmbeddedAws, scorer: None
) -> None:
    (tmp_path / "rightsizing.yaml").write_text(RIGHTSIZING)
    aws.reset_calls()

    run = mlcost("plan", "-f", str(tmp_path), "--endpoint-url", aws.endpoint_url)

    assert run.returncode == 2, run.stdout + run.stderr
    assert "team-fraud/fraud-scorer/AllTraffic: ml.c5.xlarge x1, saves $446.76/month" in run.stdout
    assert "Apply: would roll out fraud-scorer-mlcost-" in run.stdout
    assert not [k for k in aws.calls() if k[1] in ("CreateEndpointConfig", "UpdateEndpoint")]


def test_a_usage_error_is_an_error_not_changes_pending() -> None:
    # `plan` exits 2 for "changes pending": argparse's own 2 for a bad option would read as that.
    run = mlcost("plan", "-f", str(EXAMPLES), "--max-findings", "-1")
    assert run.returncode == 1
    assert "--max-findings" in run.stderr
