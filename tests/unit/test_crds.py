"""The generated CRDs: valid for an API server, structural, in step with the models and crds/."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import BaseModel

import mlcost.api.common
import mlcost.api.types
import mlcost.api.v1alpha1.endpointrightsizing
import mlcost.api.v1alpha1.mlcostpolicy
import mlcost.api.v1alpha1.mlcostreport
from mlcost.api.crd import (
    ALLOWED_SCHEMA_KEYS,
    HEADER,
    KINDS,
    KUSTOMIZATION,
    build_crds,
    render_crds,
    write_crds,
)
from mlcost.api.types import (
    DECIMAL_PATTERN,
    MIN_1M_DURATION_PATTERN,
    PERCENT_PATTERN,
    POSITIVE_DECIMAL_PATTERN,
    ApiModel,
    parse_duration,
)
from mlcost.api.v1alpha1 import EndpointRightsizing, MLCostPolicy, MLCostReport
from mlcost.api.v1alpha1.mlcostreport import MIN_10M_DURATION_PATTERN, PERCENT_0_100_PATTERN
from mlcost.manifests import format_path

from .test_manifests import BAD_CASES, EXAMPLES, BadCase, bad_document, example

CRDS = Path(__file__).resolve().parents[2] / "crds"
MODELS: dict[str, type[MLCostPolicy] | type[EndpointRightsizing] | type[MLCostReport]] = {
    "MLCostPolicy": MLCostPolicy,
    "EndpointRightsizing": EndpointRightsizing,
    "MLCostReport": MLCostReport,
}


def crd_of(kind: str) -> dict[str, Any]:
    (crd,) = (crd for crd in build_crds() if crd["spec"]["names"]["kind"] == kind)
    return crd


def schema_of(kind: str) -> dict[str, Any]:
    schema = crd_of(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert isinstance(schema, dict)
    return schema


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path ("spec.budget.notifications[]")."""
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


def node_at(schema: dict[str, Any], field: str) -> dict[str, Any]:
    """The schema node of a manifest field path such as "spec.budget.notifications[0]"."""
    node = schema
    for name, index in re.findall(r"(\w+)|\[(\d+)\]", field):
        node = node["items"] if index else node["properties"][name]
    return node


def to_jsonschema(node: dict[str, Any]) -> dict[str, Any]:
    """The openAPIV3Schema as plain JSON Schema (draft 4, what OpenAPI v3.0 builds on).

    x-kubernetes-* keys are dropped (CEL is checked apart), and every object with properties
    rejects unknown fields, as the API server's strict field validation (kubectl's default) does.
    """
    converted = {key: value for key, value in node.items() if not key.startswith("x-kubernetes-")}
    if "properties" in converted:
        converted["properties"] = {k: to_jsonschema(v) for k, v in converted["properties"].items()}
        converted["additionalProperties"] = False
    for key in ("items", "additionalProperties"):
        if isinstance(converted.get(key), dict):
            converted[key] = to_jsonschema(converted[key])
    return converted


def validator_of(kind: str) -> jsonschema.Draft4Validator:
    schema = to_jsonschema(schema_of(kind))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def api_server_defaults(schema: dict[str, Any], value: Any) -> Any:
    """`value` after the API server's structural defaulting with this schema."""
    if isinstance(value, dict) and "properties" in schema:
        value = dict(value)
        for name, child in schema["properties"].items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                value[name] = api_server_defaults(child, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [api_server_defaults(schema["items"], item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------
# The CRD documents


@pytest.mark.parametrize("version", ["1.28", kubernetes_validate.utils.latest_version()])
@pytest.mark.parametrize("kind", MODELS)
def test_crd_is_a_valid_custom_resource_definition(kind: str, version: str) -> None:
    # strict: unknown keys anywhere in the CRD document are errors. 1.28 is the oldest
    # Kubernetes whose x-kubernetes-validations know fieldPath.
    kubernetes_validate.validate(crd_of(kind), version, strict=True)


def test_crd_names_scope_and_subresources() -> None:
    policy, rightsizing, report = build_crds()
    for crd, plural, short in (
        (policy, "mlcostpolicies", "mcp"),
        (rightsizing, "endpointrightsizings", "epr"),
        (report, "mlcostreports", "mcr"),
    ):
        spec = crd["spec"]
        assert crd["metadata"]["name"] == f"{plural}.mlcost.io"
        assert spec["group"] == "mlcost.io"
        assert spec["scope"] == "Namespaced"
        assert spec["names"]["plural"] == plural
        assert spec["names"]["shortNames"] == [short]
        assert spec["names"]["categories"] == ["mlcost"]
        (version,) = spec["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
        assert version["subresources"] == {"status": {}}
        root = version["schema"]["openAPIV3Schema"]
        assert root["required"] == ["spec"]  # metadata is the server's, status the operator's
        assert set(root["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
        # Exactly this: the API server refuses any other key (a description too) on the root
        # metadata schema.
        assert root["properties"]["metadata"] == {"type": "object"}


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        (
            "MLCostPolicy",
            [
                ("Mode", ".spec.mode"),
                ("Budget", ".spec.budget.limit"),
                ("Spend", ".status.budget.actualSpend"),
                ("Forecast", ".status.budget.forecastedSpend"),
                ("Violations", ".status.compliance.violations"),
                ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                ("Age", ".metadata.creationTimestamp"),
            ],
        ),
        (
            "EndpointRightsizing",
            [
                ("Endpoint", ".spec.endpointName"),
                ("Mode", ".spec.mode"),
                ("Current", ".status.current.instanceType"),
                ("Recommended", ".status.recommendation.instanceType"),
                ("Savings/mo", ".status.recommendation.monthlySavings"),
                ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                ("Age", ".metadata.creationTimestamp"),
            ],
        ),
        (
            "MLCostReport",
            [
                ("Group by", ".status.spend.groupBy"),
                ("Total", ".status.spend.total"),
                ("Forecast", ".status.spend.forecast"),
                ("Untagged %", ".status.spend.untaggedPercent"),
                ("SP utilisation", ".status.savingsPlans.utilizationPercent"),
                ("SP coverage", ".status.savingsPlans.coveragePercent"),
                ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                ("Age", ".metadata.creationTimestamp"),
            ],
        ),
    ],
)
def test_printer_columns(kind: str, columns: list[tuple[str, str]]) -> None:
    printed = crd_of(kind)["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [(column["name"], column["jsonPath"]) for column in printed] == columns
    schema = schema_of(kind)
    for column in printed:
        path = column["jsonPath"]
        if path == ".metadata.creationTimestamp":
            assert column["type"] == "date"
            continue
        # Every column shows a field that exists, with a column type that fits the field's.
        field = re.sub(r"\[\?\(.*\)\]", "[0]", path).lstrip(".")
        node = node_at(schema, field)
        expected = {"integer": "integer", "string": "string"}[node["type"]]
        assert column["type"] == expected, column


# ---------------------------------------------------------------------------------------------
# Structural schema rules (what a real API server checks and a fake would not)


@pytest.mark.parametrize("kind", MODELS)
def test_schema_is_structural(kind: str) -> None:
    for path, node in nodes(schema_of(kind)):
        assert set(node) <= ALLOWED_SCHEMA_KEYS, (path, set(node) - ALLOWED_SCHEMA_KEYS)
        assert node.get("type") in {"object", "array", "string", "integer", "number", "boolean"}, path
        assert "$ref" not in node and "anyOf" not in node and "oneOf" not in node, path
        assert "title" not in node and "nullable" not in node, path
        assert not ("properties" in node and "additionalProperties" in node), path
        assert node.get("additionalProperties", {}) is not False, path
        if "default" in node:
            assert node["default"] is not None, path
        if node["type"] == "array":
            assert isinstance(node.get("items"), dict), path
        if "enum" in node:
            assert all(isinstance(value, str) for value in node["enum"]), path
        for bound in ("exclusiveMinimum", "exclusiveMaximum"):
            assert isinstance(node.get(bound, True), bool), path
        for name in node.get("required", []):
            assert name in node["properties"], (path, name)
        if node.get("x-kubernetes-list-type") == "map":
            keys = node["x-kubernetes-list-map-keys"]
            assert set(keys) <= set(node["items"]["required"]), path


@pytest.mark.parametrize("kind", MODELS)
def test_every_property_has_a_description(kind: str) -> None:
    schema = schema_of(kind)
    assert schema["description"].startswith(kind)
    for path, node in nodes(schema):
        for name, child in node.get("properties", {}).items():
            if (path, name) == ("", "metadata"):
                continue  # the API server allows no description there (`kubectl explain` has its own)
            assert child.get("description"), f"{path}.{name}"


def test_every_model_field_has_a_description() -> None:
    def subclasses(cls: type[BaseModel]) -> Iterator[type[BaseModel]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    api_modules = {
        mlcost.api.common.__name__,
        mlcost.api.types.__name__,
        mlcost.api.v1alpha1.mlcostpolicy.__name__,
        mlcost.api.v1alpha1.endpointrightsizing.__name__,
        mlcost.api.v1alpha1.mlcostreport.__name__,
    }
    checked = 0
    for model in subclasses(ApiModel):
        if model.__module__ not in api_modules:
            continue
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("kind", MODELS)
def test_no_unknown_fields_are_preserved(kind: str) -> None:
    for path, node in nodes(schema_of(kind)):
        assert "x-kubernetes-preserve-unknown-fields" not in node, path
        if node["type"] == "object" and path not in ("metadata",):
            # Every object is either a struct (properties) or a map (additionalProperties).
            assert "properties" in node or "additionalProperties" in node, path


@pytest.mark.parametrize("kind", MODELS)
def test_patterns_mean_the_same_in_ecma_262_and_re2(kind: str) -> None:
    # The API server runs `pattern` as a Go (RE2) regexp, the OpenAPI spec says ECMA 262, and
    # this test suite runs Python's re. Only the common subset means the same in all three:
    # no lookaround, backreferences, named groups or inline flags, no Unicode-sensitive \d \w \b.
    for path, node in nodes(schema_of(kind)):
        pattern = node.get("pattern")
        if pattern is None:
            continue
        re.compile(pattern)
        assert pattern.startswith("^") and pattern.endswith("$"), path
        assert "(?" not in pattern and not re.search(r"\\[1-9dDwWbB]", pattern), (path, pattern)


def test_no_status_defaults_and_spec_defaults_in_api_spelling() -> None:
    schema = schema_of("MLCostPolicy")
    assert not [path for path, node in nodes(schema["properties"]["status"]) if "default" in node]
    spec = schema["properties"]["spec"]
    assert node_at(spec, "resyncInterval")["default"] == "10m"
    assert node_at(spec, "mode")["default"] == "Audit"
    assert node_at(spec, "enforcement")["default"] == {}
    assert node_at(spec, "enforcement.gracePeriod")["default"] == "1d"
    assert node_at(spec, "tagging.resourceTypes")["default"] == [
        "Endpoint",
        "NotebookInstance",
        "TrainingJob",
    ]
    assert "default" not in node_at(spec, "budget.name")
    assert "default" not in node_at(spec, "scope.namePrefixes")  # [] says nothing
    targets = node_at(schema_of("EndpointRightsizing"), "spec.targets")
    assert targets["default"] == {}
    assert node_at(targets, "cpuUtilization")["default"] == "60"


@pytest.mark.parametrize("kind", MODELS)
def test_defaults_are_valid_for_their_own_schema(kind: str) -> None:
    for _path, node in nodes(schema_of(kind)):
        if "default" in node:
            jsonschema.Draft4Validator(to_jsonschema(node)).validate(node["default"])


def _strip_defaulted(schema: dict[str, Any], value: Any) -> Any:
    """`value` without every field whose value is the schema's default for it."""
    if isinstance(value, dict) and "properties" in schema:
        return {
            name: _strip_defaulted(schema["properties"].get(name, {}), item)
            for name, item in value.items()
            if schema["properties"].get(name, {}).get("default", object()) != item
        }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_strip_defaulted(schema["items"], item) for item in value]
    return value


@pytest.mark.parametrize("kind", MODELS)
def test_api_server_defaults_equal_model_defaults(kind: str) -> None:
    # Leave out every defaulted field of the example (down to the nested ones), then let the
    # schema fill them in as the API server would: the model must read the same object from
    # that as it does from the sparse manifest with its own defaults.
    schema = schema_of(kind)
    sparse = _strip_defaulted(schema, example(kind))
    defaulted = api_server_defaults(schema, sparse)
    assert defaulted != sparse
    model = MODELS[kind]
    assert model.model_validate(defaulted) == model.model_validate(sparse)
    # And an object of only its required fields, where whole sub-objects come from `default: {}`.
    minimal = {
        "MLCostPolicy": {},
        "EndpointRightsizing": {"endpointName": "e"},
        "MLCostReport": {"showback": {"groupByTag": "team"}},
    }[kind]
    document = {"apiVersion": "mlcost.io/v1alpha1", "kind": kind, "metadata": {"name": "m"}}
    from_server = model.model_validate(
        document | {"spec": api_server_defaults(schema["properties"]["spec"], minimal)}
    )
    assert from_server == model.model_validate(document | {"spec": minimal})


# ---------------------------------------------------------------------------------------------
# CEL rules


# MLCostReport has no rule spanning fields, hence no CEL: its patterns carry every rule.
@pytest.mark.parametrize("kind", ["MLCostPolicy", "EndpointRightsizing"])
def test_cel_rules_name_fields_that_exist(kind: str) -> None:
    rules = 0
    for path, node in nodes(schema_of(kind)):
        for rule in node.get("x-kubernetes-validations", []):
            rules += 1
            text = rule["rule"]
            assert rule["message"], path
            assert text.count("(") == text.count(")"), text
            for field in re.findall(r"\b(?:self|oldSelf)\.(\w+)", text):
                assert field in node["properties"], (path, field)
            if "fieldPath" in rule:
                assert rule["fieldPath"].lstrip(".") in node["properties"], (path, rule)
    assert rules >= 2


def test_budget_name_is_immutable_once_set() -> None:
    budget = node_at(schema_of("MLCostPolicy"), "spec.budget")
    (rule,) = [r for r in budget["x-kubernetes-validations"] if r["fieldPath"] == ".name"]
    assert rule == {
        "rule": "!has(oldSelf.name) || (has(self.name) && self.name == oldSelf.name)",
        "message": "budget.name is immutable once set: create a new policy to rename a budget",
        "fieldPath": ".name",
    }
    # The rule compares strings: a maxLength keeps its CEL cost estimate low.
    assert budget["properties"]["name"]["maxLength"] == 100


# ---------------------------------------------------------------------------------------------
# The narrower patterns say exactly what the field validators say


DECIMALS = [
    "0", "00", "0.0", "0.000", "000.00", "0.01", "00.5", "1", "01", "5000", "5000.00", "0.23",
    "60", "99.99", "100", "100.0", "100.00", "0100", "100.01", "101", "150", "1000", "1e3",
    "-5", "", ".5", "5.", " 5",
]  # fmt: skip


@pytest.mark.parametrize("value", DECIMALS)
def test_decimal_patterns_agree_with_the_validators(value: str) -> None:
    number = Decimal(value) if re.fullmatch(DECIMAL_PATTERN, value) else None
    assert bool(re.search(POSITIVE_DECIMAL_PATTERN, value)) == (number is not None and number > 0)
    assert bool(re.search(PERCENT_PATTERN, value)) == (number is not None and 0 < number <= 100)


NUMBERS = (0, 1, 2, 9, 10, 59, 60, 61, 99, 100, 600)
DURATIONS = [f"{n}{unit}" for n in NUMBERS for unit in ("s", "m", "h", "d")] + [
    "0060s", "00m", "59999ms", "60000ms", "060000ms", "100000ms", "999ms", "1ms", "5 m", "1.5h", "m",
]  # fmt: skip


@pytest.mark.parametrize("value", DURATIONS)
def test_resync_pattern_agrees_with_the_validator(value: str) -> None:
    try:
        at_least_a_minute = parse_duration(value) >= timedelta(minutes=1)
    except ValueError:
        at_least_a_minute = False
    assert bool(re.search(MIN_1M_DURATION_PATTERN, value)) == at_least_a_minute


@pytest.mark.parametrize("value", DURATIONS)
def test_report_resync_pattern_agrees_with_the_validator(value: str) -> None:
    try:
        ten_minutes = parse_duration(value) >= timedelta(minutes=10)
    except ValueError:
        ten_minutes = False
    assert bool(re.search(MIN_10M_DURATION_PATTERN, value)) == ten_minutes


@pytest.mark.parametrize("value", DECIMALS)
def test_report_percent_pattern_agrees_with_the_validator(value: str) -> None:
    number = Decimal(value) if re.fullmatch(DECIMAL_PATTERN, value) else None
    assert bool(re.search(PERCENT_0_100_PATTERN, value)) == (number is not None and number <= 100)


def test_report_defaults_in_the_crd() -> None:
    spec = schema_of("MLCostReport")["properties"]["spec"]
    assert node_at(spec, "resyncInterval")["default"] == "1h"
    assert node_at(spec, "showback.timeUnit")["default"] == "MONTHLY"
    assert node_at(spec, "showback.maxUntaggedPercent")["default"] == "20"
    assert node_at(spec, "savingsPlans")["default"] == {}
    assert node_at(spec, "savingsPlans.expiryWarning")["default"] == "30d"
    assert node_at(spec, "savingsPlans.minUtilizationPercent")["default"] == "90"
    assert node_at(spec, "savingsPlans.recommendation")["default"] == {}
    assert node_at(spec, "savingsPlans.recommendation.lookback")["default"] == "THIRTY_DAYS"
    assert spec["required"] == ["showback"]


# ---------------------------------------------------------------------------------------------
# Manifests against the CRD schema


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda path: path.name)
def test_examples_are_valid_for_crd_and_models(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kind = document["kind"]
        errors = [
            f"{format_path(e.absolute_path)}: {e.message}" for e in validator_of(kind).iter_errors(document)
        ]
        assert errors == []
        MODELS[kind].model_validate(document)


def test_examples_use_every_policy_field() -> None:
    # The policy example is the reference manifest: every spec field of the API appears in it
    # (in at least one item of a list).
    spec = schema_of("MLCostPolicy")["properties"]["spec"]

    def present(node: dict[str, Any], value: Any, path: str) -> Iterator[str]:
        yield path
        if isinstance(value, list):
            for item in value:
                yield from present(node.get("items", {}), item, f"{path}[]")
        elif isinstance(value, dict) and "properties" in node:
            for name, item in value.items():
                yield from present(node["properties"][name], item, f"{path}.{name}")

    # Paths as nodes() spells them; map values ({}) are user data, not fields.
    fields = {path for path, _node in nodes(spec, "spec") if "{}" not in path}
    assert fields - set(present(spec, example("MLCostPolicy")["spec"], "spec")) == set()


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda case: case.id)
def test_bad_manifest_is_rejected_by_the_crd(case: BadCase) -> None:
    document = bad_document(case)
    errors = {
        format_path(error.absolute_path): error.message
        for error in validator_of(case.kind).iter_errors(document)
    }
    schema = schema_of(case.kind)
    if case.crd == "schema":
        expected = case.field if case.crd_field is None else case.crd_field
        assert expected in errors, errors
    elif case.crd.startswith("cel:"):
        # OpenAPI alone lets it through; the CEL rule on the field's node is what rejects it.
        assert errors == {}
        rules = [rule["rule"] for rule in node_at(schema, case.field).get("x-kubernetes-validations", [])]
        assert any(case.crd.removeprefix("cel:") in rule for rule in rules), rules
    else:
        # Not expressible in a CRD (a time zone database, a regex compiler): the schema lets it
        # through, `mlcost validate` and the operator's status report it.
        assert case.crd == "operator"
        assert errors == {}


def test_status_examples_from_the_api_validate() -> None:
    # The status shapes of API.md, as the operator will write them through the status subresource.
    policy = example("MLCostPolicy") | {
        "status": {
            "observedGeneration": 3,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "",
                 "lastTransitionTime": "2026-11-27T10:00:00Z", "observedGeneration": 3},
            ],
            "budget": {"name": "team-fraud-ml", "arn": "arn:aws:budgets::111122223333:budget/team-fraud-ml",
                       "limit": "5000", "actualSpend": "1234.56", "forecastedSpend": "4800.00",
                       "utilizationPercent": "24.69", "lastUpdated": "2026-11-27T10:00:00Z"},
            "compliance": {"evaluated": 128, "violations": 7,
                           "byRule": {"MissingTag": 4, "InstanceTypeNotAllowed": 1, "SpotNotUsed": 2},
                           "items": [{"resourceType": "NotebookInstance", "name": "fraud-eda",
                                      "rule": "MaxUptimeExceeded", "detail": "up 14h", "action": "Stopped",
                                      "since": "2026-11-27T09:00:00Z"}]},
            "lastSweep": "2026-11-27T10:00:00Z",
        }
    }  # fmt: skip
    assert list(validator_of("MLCostPolicy").iter_errors(policy)) == []
    assert MLCostPolicy.model_validate(policy).to_api()["status"] == policy["status"]
    too_many = copy.deepcopy(policy)
    too_many["status"]["compliance"]["items"] *= 51
    assert list(validator_of("MLCostPolicy").iter_errors(too_many))


def test_report_status_as_the_operator_writes_it_validates() -> None:
    group = {"group": "fraud", "usage": "Hosting", "amount": "800.00"}
    report = example("MLCostReport") | {
        "status": {
            "observedGeneration": 1,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "",
                 "lastTransitionTime": "2026-12-01T10:00:00Z", "observedGeneration": 1},
            ],
            "spend": {"periodStart": "2026-12-01", "periodEnd": "2027-01-01", "groupBy": "team",
                      "total": "800.00", "forecast": "2400.00", "groups": [group],
                      "untaggedPercent": "0.0", "computedAt": "2026-12-01T10:00:00Z"},
            "savingsPlans": {
                "plans": [{"savingsPlanId": "sp-1", "savingsPlanArn": "arn:aws:savingsplans::1:savingsplan/s",
                           "commitmentPerHour": "1.50", "term": "ONE_YEAR", "paymentOption": "NO_UPFRONT",
                           "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z",
                           "state": "active"}],
                "utilizationPercent": "85.0", "coveragePercent": "40.0",
                "computedAt": "2026-12-01T10:00:00Z",
                "recommendation": {"term": "ONE_YEAR", "paymentOption": "NO_UPFRONT",
                                   "lookback": "THIRTY_DAYS", "hourlyCommitment": "2.10",
                                   "estimatedMonthlySavings": "350.00", "upfrontCost": "0",
                                   "breakEvenMonths": "0"},
            },
            "lastSweep": "2026-12-01T10:00:00Z",
        }
    }  # fmt: skip
    assert list(validator_of("MLCostReport").iter_errors(report)) == []
    assert MLCostReport.model_validate(report).to_api()["status"] == report["status"]
    too_many = copy.deepcopy(report)
    too_many["status"]["spend"]["groups"] = [group] * 101
    assert list(validator_of("MLCostReport").iter_errors(too_many))


# ---------------------------------------------------------------------------------------------
# crds/ is generated


def test_crds_directory_is_up_to_date() -> None:
    # kustomization.yaml included: `mlcost crds` writes it with the CRDs, so it cannot go stale.
    committed = {path.name: path.read_text() for path in CRDS.glob("*.yaml")}
    assert committed == render_crds(), "crds/ is stale: run `mlcost crds`"
    assert KUSTOMIZATION in committed


def test_kustomization_lists_every_crd() -> None:
    kustomization = yaml.safe_load((CRDS / KUSTOMIZATION).read_text())
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"] == [kind.filename for kind in KINDS]
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in CRDS.glob("*.yaml") if p.name != KUSTOMIZATION
    )


def test_rendering_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    written = write_crds(tmp_path / "out")
    assert [path.name for path in written] == [kind.filename for kind in KINDS] + [KUSTOMIZATION]
    assert render_crds() == render_crds()
    for path, crd in zip(written[: len(KINDS)], build_crds(), strict=True):
        text = path.read_text()
        assert text.startswith(HEADER)
        assert "&id" not in text and "*id" not in text  # no YAML anchors in a CRD
        assert yaml.safe_load(text) == crd


def test_report_has_no_cel_rules_so_no_cost_budget_to_exceed() -> None:
    assert not [path for path, node in nodes(schema_of("MLCostReport")) if "x-kubernetes-validations" in node]
