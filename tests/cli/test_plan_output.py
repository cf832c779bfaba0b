"""`mlcost plan -o json|markdown` and --max-findings, as a pull-request check reads them.

Every run is the real command against the embedded AWS; the JSON is validated against the
schema users are given (docs/plan-output.v1.schema.json).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mlcost.embedded.server import EmbeddedAws
from tests.cli.test_cli import EXAMPLES, POLICY, RIGHTSIZING, ROOT, mlcost
from tests.conftest import client_of
from tests.reconcile.test_budget_lifecycle import create_foreign_budget
from tests.reconcile.test_governance import notebook
from tests.reconcile.test_rightsizing import sagemaker, scorer

__all__ = ["sagemaker", "scorer"]  # fixtures

SCHEMA = json.loads((ROOT / "docs" / "plan-output.v1.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

ENFORCED = """\
apiVersion: mlcost.io/v1alpha1
kind: MLCostPolicy
metadata: {name: fraud-detection, namespace: team-fraud}
spec:
  mode: MODE
  scope: {tags: {team: fraud}}
  budget: {limit: "5000"}
  notebooks: {allowedInstanceTypes: [ml.t3.medium]}
"""
# ml.m5.xlarge notebooks are priced by the shipped catalogue; ml.p2.xlarge is not in it.
PRICED = "ml.m5.xlarge"
UNPRICED = "ml.p2.xlarge"


@pytest.fixture
def aws(embedded_aws: EmbeddedAws) -> EmbeddedAws:
    embedded_aws.reset()
    return embedded_aws


def plan(aws: EmbeddedAws, directory: Path, *args: str) -> tuple[int, str]:
    run = mlcost("plan", "-f", str(directory), "--endpoint-url", aws.endpoint_url, *args)
    assert run.returncode in (0, 1, 2), run.stdout + run.stderr
    return run.returncode, run.stdout


def valid_json(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)  # stdout holds the document and nothing else
    errors = sorted(VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return document


@pytest.fixture
def team(aws: EmbeddedAws, tmp_path: Path) -> Path:
    """Two priced notebooks and one unpriced one break the instance-type rule; one complies."""
    sm = client_of(aws, "sagemaker")
    notebook(sm, "fraud-a", PRICED, tags={"team": "fraud"})
    notebook(sm, "fraud-b", PRICED, tags={"team": "fraud"})
    notebook(sm, "fraud-gpu", UNPRICED, tags={"team": "fraud"})
    notebook(sm, "fraud-ok", "ml.t3.medium", tags={"team": "fraud"})
    (tmp_path / "policy.yaml").write_text(ENFORCED.replace("MODE", "Enforce"))
    return tmp_path


def test_json_says_what_changes_where_and_what_is_at_stake(aws: EmbeddedAws, team: Path) -> None:
    code, out = plan(aws, team, "-o", "json")

    document = valid_json(out)
    assert code == document["exitCode"] == 2
    assert document["schemaVersion"] == "mlcost.io/plan/v1"
    (policy,) = document["objects"]
    assert (policy["kind"], policy["namespace"], policy["name"]) == (
        "MLCostPolicy",
        "team-fraud",
        "fraud-detection",
    )
    assert policy["aws"] == {"account": "123456789012", "region": "us-east-1", "roleArn": None}
    assert policy["outcome"] == "ChangesPending" and policy["evaluated"] == 4
    actions = sorted((c["action"], c["target"]) for c in policy["changes"])
    assert actions == [
        ("CreateBudget", "budget team-fraud-fraud-detection"),
        ("Marked", "NotebookInstance fraud-a"),
        ("Marked", "NotebookInstance fraud-b"),
        ("Marked", "NotebookInstance fraud-gpu"),
    ]
    findings = {f["resource"]: f for f in policy["findings"]}
    assert set(findings) == {"fraud-a", "fraud-b", "fraud-gpu"}
    priced = findings["fraud-a"]
    assert (priced["rule"], priced["resourceType"], priced["action"]) == (
        "InstanceTypeNotAllowed",
        "NotebookInstance",
        "Pending",
    )
    assert priced["monthlyCost"] == "167.90" and priced["costUnknownReason"] is None
    assert "stop due at" in priced["pendingAction"] and priced["since"]
    # Unknown is not $0: null, with the reason naming the type the catalogue lacks.
    unknown = findings["fraud-gpu"]
    assert unknown["monthlyCost"] is None and unknown["oneOffCost"] is None
    assert UNPRICED in unknown["costUnknownReason"]
    at_stake = {"findings": 3, "monthlyCost": "335.80", "oneOffCost": "0.00", "unknownCost": 1}
    assert policy["totals"]["byRule"] == {"InstanceTypeNotAllowed": at_stake}
    assert policy["totals"]["byResourceType"] == {"NotebookInstance": at_stake}
    assert document["summary"]["atStake"] == at_stake
    assert document["summary"]["changes"] == 4 and document["summary"]["findingsOmitted"] == 0
    assert not [k for k in aws.calls() if k[1] in ("CreateBudget", "AddTags", "StopNotebookInstance")]
    # The schema is strict enough to catch what a consumer would trip on.
    unknown["costUnknownReason"] = None
    assert not VALIDATOR.is_valid(document), "an unknown cost must say why"
    unknown["costUnknownReason"], priced["monthlyCost"] = "x", 167.9
    assert not VALIDATOR.is_valid(document), "money is an exact string, not a float"


def test_text_says_how_many_findings_were_left_out(aws: EmbeddedAws, team: Path) -> None:
    code, out = plan(aws, team, "--max-findings", "1")

    assert code == 2
    listed = [line for line in out.splitlines() if "  ! NotebookInstance" in line]
    assert len(listed) == 1
    assert "... 2 more finding(s) not shown (1 of 3); run with --max-findings 0 to see them all" in out

    _, everything = plan(aws, team, "--max-findings", "0")
    assert len([line for line in everything.splitlines() if "  ! NotebookInstance" in line]) == 3
    assert "not shown" not in everything


def test_every_finding_beyond_the_status_cap_can_be_listed(aws: EmbeddedAws, tmp_path: Path) -> None:
    """The status holds 50 findings; a plan of 55 says 5 are left out, and lists all 55 on ask."""
    sm = client_of(aws, "sagemaker")
    for n in range(55):
        notebook(sm, f"fraud-{n:02d}", PRICED, tags={"team": "fraud"})
    (tmp_path / "policy.yaml").write_text(
        ENFORCED.replace("MODE", "Audit").replace('  budget: {limit: "5000"}\n', "")
    )

    code, text = plan(aws, tmp_path)
    assert code == 0  # Audit: findings, but nothing the operator would change
    assert len([line for line in text.splitlines() if "  ! NotebookInstance" in line]) == 50
    assert "... 5 more finding(s) not shown (50 of 55); run with --max-findings 0 to see them all" in text

    _, capped = plan(aws, tmp_path, "-o", "json")
    (policy,) = valid_json(capped)["objects"]
    assert (len(policy["findings"]), policy["findingsTotal"], policy["findingsOmitted"]) == (50, 55, 5)
    assert policy["totals"]["byRule"]["InstanceTypeNotAllowed"]["findings"] == 55

    _, full = plan(aws, tmp_path, "-o", "json", "--max-findings", "0")
    document = valid_json(full)
    (policy,) = document["objects"]
    assert sorted(f["resource"] for f in policy["findings"]) == [f"fraud-{n:02d}" for n in range(55)]
    assert {f["action"] for f in policy["findings"]} == {"WouldStop"}
    assert document["summary"]["atStake"]["monthlyCost"] == "9234.50"  # 55 x 167.90


def test_markdown_reads_as_a_pull_request_comment(aws: EmbeddedAws, team: Path) -> None:
    (team / "report.yaml").write_text((EXAMPLES / "mlcostreport-sagemaker.yaml").read_text())

    code, out = plan(aws, team, "-o", "markdown", "--max-findings", "1")

    assert code == 2
    lines = out.splitlines()
    assert lines[0] == "<!-- mlcost-plan -->"  # lets a CI job update its comment in place
    assert lines[1] == "## mlcost plan: 2 object(s), changes pending in AWS"
    summary = out[: out.index("<details>")]
    # The summary, before anything folded: what changes, violations by rule, money at stake.
    assert (
        "| MLCostPolicy `team-fraud/fraud-detection` | 123456789012 us-east-1 | ChangesPending | 4 | 3 |"
        in summary
    )
    assert "**Changes in AWS:** 4 (CreateBudget 1, Marked 3)" in summary
    assert "**Violations by rule:** InstanceTypeNotAllowed 3" in summary
    assert "**Money at stake:** $335.80/month (1 resource(s) with unknown cost)" in summary
    # One folded block per object, each closed.
    summaries = re.findall(r"<details>\n<summary>(.*)</summary>", out)
    assert summaries == [
        "MLCostPolicy team-fraud/fraud-detection: ChangesPending, 4 change(s), 3 finding(s)",
        "MLCostReport mlcost-system/sagemaker-showback: ReadOnly, 0 change(s), 0 finding(s)",
    ]
    assert out.count("</details>") == 2
    policy_block = out[out.index("<details>") : out.index("</details>")]
    assert "| type | resource | rule | cost | action | since | detail |" in policy_block
    rows = [line for line in policy_block.splitlines() if line.startswith("| NotebookInstance")]
    assert len(rows) == 1 and "$167.90/month" in rows[0]
    assert "_2 more finding(s) not shown (1 of 3); run with --max-findings 0 to see them all_" in policy_block
    assert "_3 more change(s) not shown; run with --max-findings 0 to see them all_" in policy_block
    assert "Read-only: nothing to change." in out

    _, everything = plan(aws, team, "-o", "markdown", "--max-findings", "0")
    unknown_row = next(line for line in everything.splitlines() if "`fraud-gpu`" in line)
    cost_cell = unknown_row.split(" | ")[3]
    assert cost_cell.startswith("unknown") and UNPRICED in cost_cell


@pytest.mark.parametrize("output", ["text", "json", "markdown"])
def test_exit_codes_are_the_same_in_every_format(aws: EmbeddedAws, tmp_path: Path, output: str) -> None:
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.yaml").write_text((EXAMPLES / "mlcostreport-sagemaker.yaml").read_text())
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "policy.yaml").write_text(POLICY)

    none, none_out = plan(aws, report, "-o", output)
    pending, pending_out = plan(aws, policy, "-o", output)
    create_foreign_budget(client_of(aws, "budgets"))
    error, error_out = plan(aws, policy, "-o", output)

    assert (none, pending, error) == (0, 2, 1)
    if output == "json":
        assert [json.loads(o)["exitCode"] for o in (none_out, pending_out, error_out)] == [0, 2, 1]
        (blocked,) = valid_json(error_out)["objects"]
        assert blocked["outcome"] == "Error" and blocked["error"].startswith("BudgetNotOwned")
    elif output == "markdown":
        assert "errors: see below" in error_out.splitlines()[1]
        assert "**Error:** BudgetNotOwned" in error_out
    else:
        assert "BudgetNotOwned" in error_out


def test_json_carries_the_rightsizing_recommendation(aws: EmbeddedAws, tmp_path: Path, scorer: None) -> None:
    (tmp_path / "rightsizing.yaml").write_text(RIGHTSIZING)
    aws.reset_calls()  # the fixture's own CreateEndpointConfig

    code, out = plan(aws, tmp_path, "-o", "json")

    assert code == 2
    (sized,) = valid_json(out)["objects"]
    assert (sized["kind"], sized["mode"], sized["outcome"]) == (
        "EndpointRightsizing",
        "Apply",
        "ChangesPending",
    )
    (recommendation,) = sized["recommendations"]
    assert recommendation["variant"] == "AllTraffic"
    assert (recommendation["current"], recommendation["recommended"]) == (
        "ml.c5.2xlarge x2",
        "ml.c5.xlarge x1",
    )
    assert recommendation["monthlySavings"] == "446.76"
    (change,) = sized["changes"]
    assert change["target"] == "Endpoint fraud-scorer" and "roll out fraud-scorer-mlcost-" in change["detail"]
    assert not [k for k in aws.calls() if k[1] in ("CreateEndpointConfig", "UpdateEndpoint")]
