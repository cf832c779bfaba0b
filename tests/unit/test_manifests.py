"""Loading and validating manifest files: every problem comes back with its file, field and line."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mlcost.api.v1alpha1 import EndpointRightsizing, MLCostPolicy, MLCostReport
from mlcost.manifests import (
    InvalidManifestsError,
    LoadedManifest,
    ManifestError,
    format_path,
    load_manifests,
    parse_manifest,
    parse_policy,
    parse_report,
    parse_rightsizing,
    read_manifests,
    validate_manifests,
    validate_paths,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POLICY_EXAMPLE = EXAMPLES / "mlcostpolicy-fraud-detection.yaml"
RIGHTSIZING_EXAMPLE = EXAMPLES / "endpointrightsizing-fraud-scorer.yaml"
REPORT_EXAMPLE = EXAMPLES / "mlcostreport-sagemaker.yaml"
EXAMPLE_OF = {
    "MLCostPolicy": POLICY_EXAMPLE,
    "EndpointRightsizing": RIGHTSIZING_EXAMPLE,
    "MLCostReport": REPORT_EXAMPLE,
}
OBJECT_OF = {
    "MLCostPolicy": "team-fraud/fraud-detection",
    "EndpointRightsizing": "team-fraud/fraud-scorer",
    "MLCostReport": "mlcost-system/sagemaker-showback",
}


def example(kind: str) -> dict[str, Any]:
    """A fresh copy of the example manifest of a kind."""
    path = EXAMPLE_OF[kind]
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def _tokens(path: str) -> list[str | int]:
    return [int(index) if index else name for name, index in re.findall(r"(\w+)|\[(\d+)\]", path)]


def set_at(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets the field at a path such as "spec.budget.notifications[0].threshold"."""

    def mutate(document: dict[str, Any]) -> None:
        *parents, last = _tokens(path)
        node: Any = document
        for part in parents:
            node = node[part]
        node[last] = copy.deepcopy(value)

    return mutate


def delete_at(*paths: str) -> Callable[[dict[str, Any]], None]:
    """A mutation that removes fields."""

    def mutate(document: dict[str, Any]) -> None:
        for path in paths:
            *parents, last = _tokens(path)
            node: Any = document
            for part in parents:
                node = node[part]
            del node[last]

    return mutate


def both(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(document)

    return mutate


@dataclass(frozen=True)
class BadCase:
    """One broken manifest: the example of `kind` after `mutate`, and how it must be reported.

    `crd` says how the CRD rejects the same manifest (tests/unit/test_crds.py checks it):
    "schema" = OpenAPI validation, reported at `crd_field` (default: `field`);
    "cel:<fragment>" = an x-kubernetes-validations rule containing the fragment on the node of
    `field`; "operator" = not expressible in a CRD (the CLI and the operator report it).
    """

    id: str
    kind: str
    mutate: Callable[[dict[str, Any]], None]
    field: str
    message: str
    crd: str = "schema"
    crd_field: str | None = None


MCP, EPR, MCR = "MLCostPolicy", "EndpointRightsizing", "MLCostReport"
NOTIFICATION = {"type": "ACTUAL", "threshold": "50", "emails": ["a@example.com"]}

BAD_CASES = [
    # MLCostPolicy
    BadCase("limit-unquoted", MCP, set_at("spec.budget.limit", 5000), "spec.budget.limit",
            'not 5000; quote it in YAML: "5000"'),
    BadCase("limit-zero", MCP, set_at("spec.budget.limit", "0"), "spec.budget.limit",
            "must be greater than 0"),
    BadCase("threshold-zero", MCP, set_at("spec.budget.notifications[0].threshold", "0.00"),
            "spec.budget.notifications[0].threshold", "must be greater than 0"),
    BadCase("threshold-negative", MCP, set_at("spec.budget.notifications[1].threshold", "-5"),
            "spec.budget.notifications[1].threshold", 'non-negative decimal string'),
    BadCase("threshold-float", MCP, set_at("spec.budget.notifications[0].threshold", 80.5),
            "spec.budget.notifications[0].threshold", 'quote it in YAML: "80.5"'),
    BadCase("six-notifications", MCP, set_at("spec.budget.notifications", [NOTIFICATION] * 6),
            "spec.budget.notifications", "at most 5 items allowed, found 6"),
    BadCase("eleven-emails", MCP,
            set_at("spec.budget.notifications[0].emails", [f"u{i}@example.com" for i in range(11)]),
            "spec.budget.notifications[0].emails", "at most 10 items allowed, found 11"),
    BadCase("email-malformed", MCP, set_at("spec.budget.notifications[0].emails", ["ml-leads"]),
            "spec.budget.notifications[0].emails", '"ml-leads" is not an email address',
            crd_field="spec.budget.notifications[0].emails[0]"),
    BadCase("notification-without-subscriber", MCP,
            delete_at("spec.budget.notifications[1].emails",
                      "spec.budget.notifications[1].snsTopicArn"),
            "spec.budget.notifications[1]", "needs at least one of emails or snsTopicArn",
            crd="cel:has(self.snsTopicArn)"),
    BadCase("unknown-field", MCP, set_at("spec.budget.currency", "USD"), "spec.budget.currency",
            'unknown field "currency"; known fields: name, limit', crd_field="spec.budget"),
    BadCase("unknown-field-typo", MCP, set_at("spec.resyncIntervall", "5m"),
            "spec.resyncIntervall", 'did you mean "resyncInterval"?', crd_field="spec"),
    BadCase("snake-case-field", MCP, set_at("spec.budget.time_unit", "MONTHLY"),
            "spec.budget.time_unit", 'did you mean "timeUnit"?', crd_field="spec.budget"),
    BadCase("duration-in-words", MCP, set_at("spec.resyncInterval", "10 minutes"),
            "spec.resyncInterval", '"10 minutes" is not a duration'),
    BadCase("resync-below-a-minute", MCP, set_at("spec.resyncInterval", "30s"),
            "spec.resyncInterval", "must be at least 1m"),
    BadCase("mode-lowercase", MCP, set_at("spec.mode", "enforce"), "spec.mode",
            'must be one of Audit, Enforce, not "enforce"'),
    BadCase("time-unit-unknown", MCP, set_at("spec.budget.timeUnit", "WEEKLY"),
            "spec.budget.timeUnit", "must be one of DAILY, MONTHLY, QUARTERLY, ANNUALLY"),
    BadCase("tag-pattern-bad-regex", MCP, set_at("spec.tagging.required[1].pattern", "^cc-[0-9{4}$"),
            "spec.tagging.required[1].pattern", "is not a valid regular expression",
            crd="operator"),
    BadCase("timezone-unknown", MCP, set_at("spec.notebooks.schedule.timezone", "Europe/Atlantis"),
            "spec.notebooks.schedule.timezone", '"Europe/Atlantis" is not an IANA time zone',
            crd="operator"),
    BadCase("active-hours-malformed", MCP, set_at("spec.notebooks.schedule.activeHours", "Mon-Fri 7-20"),
            "spec.notebooks.schedule.activeHours", 'e.g. "Mon-Fri 07:00-20:00"'),
    BadCase("integer-as-string", MCP, set_at("spec.enforcement.maxActionsPerSweep", "20"),
            "spec.enforcement.maxActionsPerSweep", 'must be a whole number, not "20"'),
    BadCase("boolean-as-string", MCP, set_at("spec.training.requireManagedSpot", "true"),
            "spec.training.requireManagedSpot", 'must be true or false, not "true"'),
    BadCase("max-invocations-negative", MCP, set_at("spec.endpoints.idle.maxInvocations", -1),
            "spec.endpoints.idle.maxInvocations", "must be at least 0, not -1"),
    BadCase("breach-at-zero-percent", MCP, set_at("spec.breachActions[0].atPercent", "0"),
            "spec.breachActions[0].atPercent", "must be greater than 0"),
    BadCase("role-arn-malformed", MCP, set_at("spec.aws.roleArn", "mlcost-governor"),
            "spec.aws.roleArn", '"mlcost-governor" is not valid'),
    BadCase("cost-filter-tag-not-a-list", MCP, set_at("spec.budget.costFilters.tags.team", "fraud"),
            "spec.budget.costFilters.tags.team", 'must be a list, not "fraud"'),
    BadCase("forecast-on-daily-budget", MCP, set_at("spec.budget.timeUnit", "DAILY"), "spec.budget",
            "notifications[0] is FORECASTED, but AWS Budgets does not forecast DAILY budgets",
            crd="cel:n.type != 'FORECASTED'"),
    BadCase("two-sns-topics-on-one-trigger", MCP,
            set_at("spec.budget.notifications[0]",
                   {"type": "ACTUAL", "threshold": "100",
                    "snsTopicArn": "arn:aws:sns:us-east-1:111122223333:other"}),
            "spec.budget", "notifications[0], notifications[1] share the trigger ACTUAL GREATER_THAN 100",
            crd="operator"),
    BadCase("eleven-emails-after-merging", MCP,
            set_at("spec.budget.notifications[0]",
                   {"type": "ACTUAL", "threshold": "100", "emails": [f"u{i}@example.com" for i in range(9)]}),
            "spec.budget", "with 11 email(s) and 1 SNS topic(s); AWS allows at most 10 emails",
            crd="operator"),
    BadCase("limit-missing", MCP, delete_at("spec.budget.limit"), "spec.budget.limit",
            "required field is missing", crd_field="spec.budget"),
    BadCase("spec-missing", MCP, delete_at("spec"), "spec", "required field is missing",
            crd_field=""),
    BadCase("spec-not-a-mapping", MCP, set_at("spec", ["mode"]), "spec",
            "must be a mapping of fields, not a list"),
    # EndpointRightsizing
    BadCase("candidates-max-below-min", EPR,
            both(set_at("spec.candidates.minInstances", 4), set_at("spec.candidates.maxInstances", 2)),
            "spec.candidates", "maxInstances must be at least minInstances",
            crd="cel:self.maxInstances >= self.minInstances"),
    BadCase("autoscaling-max-below-min", EPR,
            set_at("spec.autoscaling",
                   {"targetInvocationsPerInstance": 1000, "minInstances": 3, "maxInstances": 2}),
            "spec.autoscaling", "maxInstances must be at least minInstances",
            crd="cel:self.maxInstances >= self.minInstances"),
    BadCase("cpu-above-100", EPR, set_at("spec.targets.cpuUtilization", "150"),
            "spec.targets.cpuUtilization", "must be above 0 and at most 100"),
    BadCase("memory-zero", EPR, set_at("spec.targets.memoryUtilization", "0"),
            "spec.targets.memoryUtilization", "must be above 0 and at most 100"),
    BadCase("instance-type-malformed", EPR,
            set_at("spec.candidates.instanceTypes", ["ml.c5.xlarge", "c5.xlarge"]),
            "spec.candidates.instanceTypes", '"c5.xlarge" is not a SageMaker instance type',
            crd_field="spec.candidates.instanceTypes[1]"),
    BadCase("endpoint-name-malformed", EPR, set_at("spec.endpointName", "fraud_scorer"),
            "spec.endpointName", '"fraud_scorer" is not valid (SageMaker endpoint)'),
    BadCase("endpoint-name-missing", EPR, delete_at("spec.endpointName"), "spec.endpointName",
            "required field is missing", crd_field="spec"),
    BadCase("rightsizing-mode-unknown", EPR, set_at("spec.mode", "Auto"), "spec.mode",
            "must be one of Recommend, Apply"),
    BadCase("maintenance-window-in-words", EPR, set_at("spec.apply.maintenanceWindow", "Saturday night"),
            "spec.apply.maintenanceWindow", 'e.g. "Sat 02:00-04:00"'),
    BadCase("min-instances-zero", EPR, set_at("spec.candidates.minInstances", 0),
            "spec.candidates.minInstances", "must be at least 1, not 0"),
    BadCase("target-invocations-zero", EPR,
            set_at("spec.autoscaling", {"targetInvocationsPerInstance": 0, "maxInstances": 2}),
            "spec.autoscaling.targetInvocationsPerInstance", "must be greater than 0, not 0"),
    BadCase("latency-unit-unknown", EPR, set_at("spec.targets.maxModelLatency", "250us"),
            "spec.targets.maxModelLatency", '"250us" is not a duration'),
    # MLCostReport
    BadCase("report-group-by-missing", MCR, delete_at("spec.showback.groupByTag"),
            "spec.showback.groupByTag", "required field is missing", crd_field="spec.showback"),
    BadCase("report-group-by-empty", MCR, set_at("spec.showback.groupByTag", ""),
            "spec.showback.groupByTag", "must not be empty"),
    BadCase("report-resync-below-ten-minutes", MCR, set_at("spec.resyncInterval", "5m"),
            "spec.resyncInterval", "must be at least 10m"),
    BadCase("report-daily-showback", MCR, set_at("spec.showback.timeUnit", "DAILY"),
            "spec.showback.timeUnit", "must be one of MONTHLY, QUARTERLY, ANNUALLY"),
    BadCase("report-untagged-above-100", MCR, set_at("spec.showback.maxUntaggedPercent", "120"),
            "spec.showback.maxUntaggedPercent", "must be at most 100"),
    BadCase("report-utilization-unquoted", MCR, set_at("spec.savingsPlans.minUtilizationPercent", 90),
            "spec.savingsPlans.minUtilizationPercent", 'quote it in YAML: "90"'),
    BadCase("report-term-in-words", MCR, set_at("spec.savingsPlans.recommendation.term", "1 year"),
            "spec.savingsPlans.recommendation.term", "must be one of ONE_YEAR, THREE_YEARS"),
    BadCase("report-lookback-unknown", MCR,
            set_at("spec.savingsPlans.recommendation.lookback", "NINETY_DAYS"),
            "spec.savingsPlans.recommendation.lookback",
            "must be one of SEVEN_DAYS, THIRTY_DAYS, SIXTY_DAYS"),
    BadCase("report-expiry-in-words", MCR, set_at("spec.savingsPlans.expiryWarning", "a month"),
            "spec.savingsPlans.expiryWarning", '"a month" is not a duration'),
    # Contradictory governance rules
    BadCase("default-breaks-its-pattern", MCP, set_at("spec.tagging.defaults", {"cost-center": "42"}),
            "spec.tagging", 'defaults.cost-center: "42" does not match required[1].pattern',
            crd="operator"),
    BadCase("tag-required-twice", MCP,
            set_at("spec.tagging.required", [{"key": "team"}, {"key": "team"}]),
            "spec.tagging", 'tag "team" is required twice', crd="operator"),
    BadCase("breach-action-does-nothing", MCP,
            set_at("spec.breachActions", [{"atPercent": "100"}]),
            "spec.breachActions[0]", "needs stopNotebooks or stopTrainingJobs",
            crd="cel:self.stopNotebooks"),
    BadCase("overnight-active-hours", MCP,
            set_at("spec.notebooks.schedule.activeHours", "Mon-Fri 22:00-06:00"),
            "spec.notebooks.schedule.activeHours", "end before they start", crd="operator"),
]  # fmt: skip


def bad_document(case: BadCase) -> dict[str, Any]:
    document = example(case.kind)
    case.mutate(document)
    return document


def write(path: Path, *documents: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


# ---------------------------------------------------------------------------------------------
# The examples


def test_examples_are_valid() -> None:
    manifests = load_manifests([EXAMPLES])
    assert [m.kind for m in manifests] == ["EndpointRightsizing", "MLCostPolicy", "MLCostReport"]
    assert validate_manifests(manifests) == []
    assert validate_paths([EXAMPLES]) == []


def test_examples_parse_into_the_models() -> None:
    (policy,) = load_manifests([POLICY_EXAMPLE])
    parsed = parse_manifest(policy)
    assert isinstance(parsed, MLCostPolicy)
    assert policy.ref == "MLCostPolicy team-fraud/fraud-detection"
    assert parsed.spec.budget is not None
    assert str(parsed.spec.budget.limit) == "5000"
    assert len(parsed.spec.budget.notifications) == 2
    (rightsizing,) = load_manifests([RIGHTSIZING_EXAMPLE])
    parsed_epr = parse_manifest(rightsizing)
    assert isinstance(parsed_epr, EndpointRightsizing)
    assert parsed_epr.spec.candidates.max_instances == 8
    (report,) = load_manifests([REPORT_EXAMPLE])
    parsed_mcr = parse_manifest(report)
    assert isinstance(parsed_mcr, MLCostReport)
    assert report.ref == "MLCostReport mlcost-system/sagemaker-showback"
    assert parsed_mcr.spec.showback.group_by_tag == "team"
    assert parsed_mcr.spec.savings_plans.expiry_warning.days == 30


def test_report_defaults_are_the_documented_ones() -> None:
    spec = parse_report(
        {
            "apiVersion": "mlcost.io/v1alpha1",
            "kind": "MLCostReport",
            "metadata": {"name": "r", "namespace": "mlcost-system"},
            "spec": {"showback": {"groupByTag": "cost-center"}},
        }
    ).spec
    assert spec.resync_interval.total_seconds() == 3600
    assert (spec.showback.time_unit.value, str(spec.showback.max_untagged_percent)) == ("MONTHLY", "20")
    plans = spec.savings_plans
    assert (plans.enabled, plans.expiry_warning.days, str(plans.min_utilization_percent)) == (True, 30, "90")
    choice = plans.recommendation
    assert (choice.term.value, choice.payment_option.value, choice.lookback.value) == (
        "ONE_YEAR",
        "NO_UPFRONT",
        "THIRTY_DAYS",
    )


# ---------------------------------------------------------------------------------------------
# Bad manifests: one problem each, with its path and a message that says what to do


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda case: case.id)
def test_bad_manifest_is_reported(case: BadCase, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", bad_document(case))
    errors = validate_paths([path])
    assert len(errors) == 1, [str(error) for error in errors]
    (error,) = errors
    assert error.file == path
    assert error.field == case.field
    assert case.message in error.message
    assert error.object == f"{case.kind} {OBJECT_OF[case.kind]}"
    assert error.line is not None and error.line >= 1


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda case: case.id)
def test_bad_manifest_cannot_be_parsed(case: BadCase, tmp_path: Path) -> None:
    (manifest,) = load_manifests([write(tmp_path / "bad.yaml", bad_document(case))])
    with pytest.raises(InvalidManifestsError) as caught:
        parse_manifest(manifest)
    assert caught.value.errors == validate_manifests([manifest])
    parse = {MCP: parse_policy, EPR: parse_rightsizing, MCR: parse_report}[case.kind]
    with pytest.raises(ValidationError):
        parse(bad_document(case))


def test_line_points_at_the_field(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    text = POLICY_EXAMPLE.read_text().replace('threshold: "100"', "threshold: 100")
    path.write_text(text)
    (error,) = validate_paths([path])
    assert error.field == "spec.budget.notifications[1].threshold"
    assert text.splitlines()[error.line - 1].strip() == "threshold: 100"  # type: ignore[operator]
    assert str(error) == (
        f"{path}:{error.line}: MLCostPolicy team-fraud/fraud-detection: "
        f"spec.budget.notifications[1].threshold: {error.message}"
    )


def test_every_problem_of_a_manifest_is_reported_at_once(tmp_path: Path) -> None:
    document = example(MCP)
    set_at("spec.budget.limit", 5000)(document)
    set_at("spec.mode", "Observe")(document)
    set_at("spec.notebooks.schedule.timezone", "Nowhere/Land")(document)
    errors = validate_paths([write(tmp_path / "bad.yaml", document)])
    assert sorted(error.field for error in errors) == [
        "spec.budget.limit",
        "spec.mode",
        "spec.notebooks.schedule.timezone",
    ]


# ---------------------------------------------------------------------------------------------
# Reading files


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: mlcost.io/v1alpha1\nkind: MLCostPolicy\nmetadata:\n  name: a\n   b: c\n")
    manifests, errors = read_manifests([path])
    assert manifests == []
    (error,) = errors
    assert error.file == path
    assert error.line == 5
    assert error.message.startswith("YAML syntax error at column")
    with pytest.raises(InvalidManifestsError, match="YAML syntax error"):
        load_manifests([path])
    assert validate_paths([path]) == errors


def test_documents_before_a_syntax_error_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(POLICY_EXAMPLE.read_text() + "---\nkind: [unclosed\n")
    manifests, errors = read_manifests([path])
    assert [m.name for m in manifests] == ["fraud-detection"]
    assert len(errors) == 1 and errors[0].line is not None


def test_other_api_groups_are_skipped_and_documents_keep_their_index(tmp_path: Path) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-fraud"}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
    path = write(tmp_path / "all.yaml", namespace, example(MCP), config, None, deployment,
                 example(EPR))  # fmt: skip
    manifests = load_manifests([path])
    assert [(m.index, m.kind) for m in manifests] == [(1, MCP), (5, EPR)]
    assert all(m.path == path for m in manifests)
    assert manifests[0].line == path.read_text().splitlines().index("---") + 2
    assert validate_manifests(manifests) == []


def test_directories_are_read_recursively(tmp_path: Path) -> None:
    write(tmp_path / "a" / "policy.yaml", example(MCP))
    write(tmp_path / "a" / "b" / "rightsizing.yml", example(EPR))
    (tmp_path / "a" / "notes.txt").write_text("kind: MLCostPolicy\n")
    write(tmp_path / "a" / ".hidden" / "ignored.yaml", {"apiVersion": "mlcost.io/v1alpha1"})
    manifests = load_manifests([tmp_path, tmp_path / "a" / "policy.yaml"])  # the file only once
    assert sorted(m.path.name for m in manifests) == ["policy.yaml", "rightsizing.yml"]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    errors = validate_paths([tmp_path / "nope"])
    assert [error.message for error in errors] == ["no such file or directory"]


def test_timestamps_stay_strings(tmp_path: Path) -> None:
    document = example(MCP)
    document["status"] = {"lastSweep": "2026-11-27T10:00:00Z"}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(document).replace("'2026-11-27T10:00:00Z'", "2026-11-27T10:00:00Z"))
    (manifest,) = load_manifests([path])
    assert manifest.obj["status"]["lastSweep"] == "2026-11-27T10:00:00Z"


# ---------------------------------------------------------------------------------------------
# Object-level problems


def _only_error(tmp_path: Path, *documents: Any) -> ManifestError:
    errors = validate_paths([write(tmp_path / "m.yaml", *documents)])
    assert len(errors) == 1, [str(error) for error in errors]
    return errors[0]


def test_unknown_kind_in_our_group(tmp_path: Path) -> None:
    document = example(MCP) | {"kind": "MLCostBudget"}
    error = _only_error(tmp_path, document)
    assert error.field == "kind"
    assert 'unknown kind "MLCostBudget" in mlcost.io' in error.message
    assert "MLCostPolicy, EndpointRightsizing" in error.message


def test_unknown_version_in_our_group(tmp_path: Path) -> None:
    error = _only_error(tmp_path, example(MCP) | {"apiVersion": "mlcost.io/v1"})
    assert (error.field, error.message) == (
        "apiVersion",
        'unknown apiVersion "mlcost.io/v1": this mlcost knows mlcost.io/v1alpha1',
    )


def test_our_kind_without_api_version_is_not_skipped(tmp_path: Path) -> None:
    document = example(EPR)
    del document["apiVersion"]
    error = _only_error(tmp_path, document)
    assert (error.field, error.message) == ("apiVersion", "required: mlcost.io/v1alpha1")


@pytest.mark.parametrize(
    ("metadata", "field", "message"),
    [
        ({"namespace": "team-fraud"}, "metadata.name", "required: every object needs a name"),
        ({"name": "", "namespace": "team-fraud"}, "metadata.name", "required"),
        ({"name": "Fraud_Detection"}, "metadata.name", '"Fraud_Detection" is not a valid name'),
        ({"name": "a", "namespace": "Team"}, "metadata.namespace", "not a valid namespace"),
        ({"name": "a", "labels": {"team": 1}}, "metadata.labels.team", "must be a string, not 1"),
        (None, "metadata", "required: a mapping with at least a name"),
    ],
)
def test_metadata_problems(metadata: dict[str, Any] | None, field: str, message: str, tmp_path: Path) -> None:
    document = example(MCP)
    if metadata is None:
        del document["metadata"]
    else:
        document["metadata"] = metadata
    error = _only_error(tmp_path, document)
    assert error.field == field
    assert message in error.message


def test_unnamed_object_is_named_by_its_document(tmp_path: Path) -> None:
    document = example(MCP)
    del document["metadata"]["name"]
    error = _only_error(tmp_path, {"apiVersion": "v1", "kind": "Namespace"}, document)
    assert error.object == "MLCostPolicy (document 2, no name)"


def test_unknown_top_level_field(tmp_path: Path) -> None:
    error = _only_error(tmp_path, example(MCP) | {"specs": {}})
    assert (error.field, error.message) == ("specs", 'unknown field "specs"; did you mean "spec"?')


def test_status_in_a_manifest_is_ignored(tmp_path: Path) -> None:
    document = example(MCP) | {"status": {"anything": "the operator writes it"}}
    assert validate_paths([write(tmp_path / "m.yaml", document)]) == []


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(POLICY_EXAMPLE.read_text().replace("  mode: Audit\n", "  mode: Audit\n  mode: Enforce\n"))
    (error,) = validate_paths([path])
    assert error.field == "spec.mode"
    assert error.message.startswith('duplicate key "mode"')
    assert path.read_text().splitlines()[error.line - 1] == "  mode: Enforce"  # type: ignore[operator]


def test_an_object_defined_twice(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", example(MCP))
    second = write(tmp_path / "b.yaml", example(EPR), example(MCP))
    (error,) = validate_paths([first, second])
    assert error.file == second
    assert error.field == "metadata.name"
    assert error.message == (f"MLCostPolicy team-fraud/fraud-detection is defined twice: also in {first}:1")


def test_same_name_in_other_namespace_or_kind_is_fine(tmp_path: Path) -> None:
    other = example(MCP)
    other["metadata"]["namespace"] = "team-risk"
    rightsizing = example(EPR)
    rightsizing["metadata"]["name"] = "fraud-detection"
    assert validate_paths([write(tmp_path / "m.yaml", example(MCP), other, rightsizing)]) == []


# ---------------------------------------------------------------------------------------------
# Parsing helpers


def test_parse_policy_is_as_strict_as_the_api_server() -> None:
    document = example(MCP)
    assert parse_policy(document).spec.mode.value == "Audit"
    snake = example(MCP)
    snake["spec"]["resync_interval"] = snake["spec"].pop("resyncInterval")
    with pytest.raises(ValidationError, match="resync_interval"):
        parse_policy(snake)
    with pytest.raises(ValidationError):
        parse_policy(document | {"kind": "EndpointRightsizing"})


def test_parse_rightsizing_reads_status() -> None:
    document = example(EPR) | {
        "status": {
            "observedGeneration": 2,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Reconciled",
                 "lastTransitionTime": "2026-11-27T10:00:00Z"},
            ],
            "recommendation": {"instanceType": "ml.c5.xlarge", "monthlySavings": "524.14"},
        }
    }  # fmt: skip
    status = parse_rightsizing(document).status
    assert status is not None and status.recommendation is not None
    assert str(status.recommendation.monthly_savings) == "524.14"


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        (("spec", "budget", "notifications", 0, "threshold"), "spec.budget.notifications[0].threshold"),
        (("spec", "tagging", "defaults", "cost-center"), "spec.tagging.defaults.cost-center"),
        (("spec", "scope", "tags", "mlcost.io/owner"), 'spec.scope.tags["mlcost.io/owner"]'),
        ((), ""),
    ],
)
def test_format_path(loc: tuple[str | int, ...], text: str) -> None:
    assert format_path(loc) == text


def test_loaded_manifest_names() -> None:
    manifest = LoadedManifest(Path("x.yaml"), 0, {"kind": "MLCostPolicy", "metadata": {"name": "a"}})
    assert manifest.ref == "MLCostPolicy a"
    assert manifest.namespace is None


def test_module_does_not_import_kopf_or_boto3() -> None:
    code = (
        "import sys, mlcost.manifests; "
        "bad = sorted(m for m in ('kopf', 'boto3', 'botocore', 'kubernetes') if m in sys.modules); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
