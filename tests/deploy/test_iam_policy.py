"""deploy/iam-policy.json allows exactly what the operator's code calls, and nothing else.

Two sources of truth, checked against each other and against the policy:

- a static scan of mlcost/aws/*.py (the only modules that call boto3): every client method
  call and every operation named in a string (get_paginator("..."), getattr-style helpers)
  that is an operation of the module's service, mapped to IAM actions with the Service
  Authorization Reference (budgets' actions are not its API names);
- the operations the operator's own clients (user agent "mlcost-operator") sent to the
  embedded AWS during the test suite: tests/conftest.py checks them against the policy at
  the end of every session and leaves them in pytest's cache, which the test below reads.

Permissions AWS checks on the caller of an operation besides the operation's own action
(iam:PassRole, KMS grants, the alarms of target tracking) are listed in DEPENDENT, each with
its source, and documented in docs/iam.md.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mlcost.embedded.shapes import operation_names

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "deploy" / "iam-policy.json"
AWS_PACKAGE = ROOT / "operator" / "mlcost" / "aws"

# The boto3 clients each module of mlcost.aws drives. A new module must be listed here, so
# that its calls are scanned against the right service.
MODULE_SERVICES: dict[str, tuple[str, ...]] = {
    "__init__.py": (),
    "errors.py": (),
    "autoscaling.py": ("application-autoscaling",),
    "budgets.py": ("budgets",),
    "cloudwatch.py": ("cloudwatch",),
    "config_cache.py": (),
    "costexplorer.py": ("ce",),
    "endpoints.py": ("sagemaker",),
    "inference_recommender.py": ("sagemaker",),
    "inventory.py": ("sagemaker", "resourcegroupstaggingapi"),
    "models.py": (),
    "pricing.py": ("pricing",),
    "sagemaker_actions.py": ("sagemaker",),
    "savingsplans.py": ("savingsplans",),
    "session.py": ("sts",),
}

# IAM service prefix of each boto3 client name (where they differ: tagging is "tag").
IAM_PREFIX = {"resourcegroupstaggingapi": "tag"}

# AWS Budgets authorizes its API with other action names (Service Authorization Reference,
# "Actions, resources, and condition keys for AWS Budget Service", operations table).
BUDGETS_ACTIONS = {
    "CreateBudget": ("budgets:ModifyBudget",),
    "UpdateBudget": ("budgets:ModifyBudget",),
    "DeleteBudget": ("budgets:ModifyBudget",),
    "CreateNotification": ("budgets:ModifyBudget",),
    "UpdateNotification": ("budgets:ModifyBudget",),
    "DeleteNotification": ("budgets:ModifyBudget",),
    "CreateSubscriber": ("budgets:ModifyBudget",),
    "UpdateSubscriber": ("budgets:ModifyBudget",),
    "DeleteSubscriber": ("budgets:ModifyBudget",),
    "DescribeBudget": ("budgets:ViewBudget",),
    "DescribeBudgets": ("budgets:ViewBudget",),
    "DescribeNotificationsForBudget": ("budgets:ViewBudget",),
    "DescribeSubscribersForNotification": ("budgets:ViewBudget",),
    "DescribeBudgetPerformanceHistory": ("budgets:ViewBudget",),
}

# Permissions the caller of an operation needs beyond its own action, on some requests only.
# Each is a conditional statement of the policy (scoped as docs/iam.md explains).
DEPENDENT: dict[tuple[str, str], tuple[str, ...]] = {
    # CreateEndpointConfig with ExecutionRoleArn: "the caller of this action must have the
    # iam:PassRole permission" (botocore's doc of CreateEndpointConfigInput.ExecutionRoleArn).
    ("sagemaker", "CreateEndpointConfig"): ("iam:PassRole", "kms:CreateGrant", "kms:DescribeKey"),
    # KmsKeyId configs: SageMaker creates a grant on the key for the endpoint's volumes on
    # behalf of the caller of CreateEndpoint/UpdateEndpoint (SageMaker Developer Guide,
    # "Protect data at rest using encryption"; see docs/iam.md, unsure for UpdateEndpoint).
    ("sagemaker", "UpdateEndpoint"): ("kms:CreateGrant", "kms:DescribeKey"),
    # CreateBudget with ResourceTags (our ownership tag) also needs budgets:TagResource (Service
    # Authorization Reference, AWS Budget Service, operations table).
    ("budgets", "CreateBudget"): ("budgets:TagResource",),
    # Target tracking: Application Auto Scaling creates and deletes the policy's CloudWatch
    # alarms with the caller's permissions (SageMaker Developer Guide, "Auto scaling
    # prerequisites"; Application Auto Scaling User Guide, identity-based policy examples).
    ("application-autoscaling", "PutScalingPolicy"): (
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
    ),
    ("application-autoscaling", "DeleteScalingPolicy"): (
        "cloudwatch:DeleteAlarms",
        "cloudwatch:DescribeAlarms",
    ),
    # RegisterScalableTarget creates the service-linked role the first time, and registering
    # an endpoint variant needs the right to scale it ("Auto scaling prerequisites").
    # Tags on RegisterScalableTarget (our ownership marker) need the TagResource action, as
    # tagging on create does across AWS (Application Auto Scaling User Guide, "Tagging support").
    ("application-autoscaling", "RegisterScalableTarget"): (
        "iam:CreateServiceLinkedRole",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        "application-autoscaling:TagResource",
    ),
}


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    """The IAM actions that authorize one API operation (without DEPENDENT ones)."""
    if service == "budgets":
        return BUDGETS_ACTIONS.get(operation, (f"budgets:{operation}",))
    return (f"{IAM_PREFIX.get(service, service)}:{operation}",)


# ---------------------------------------------------------------------------- the code


def _names_called(tree: ast.AST) -> set[str]:
    """Method names called on anything, and string constants (paginators, getattr helpers)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names.add(node.func.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
    return names


def _labels(tree: ast.AST) -> set[tuple[str, str]]:
    """The "service:Operation" labels of aws_call(...) / aws_call_or_gone(...) blocks."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id.startswith("aws_call")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and ":" in node.args[0].value
        ):
            prefix, operation = node.args[0].value.split(":", 1)
            found.add((prefix, operation))
    return found


@cache
def code_operations() -> frozenset[tuple[str, str]]:
    """(boto3 service, API operation) of every AWS call the package's code can make."""
    found: set[tuple[str, str]] = set()
    for path in sorted(AWS_PACKAGE.glob("*.py")):
        services = MODULE_SERVICES[path.name]  # KeyError: list the new module above
        names = _names_called(ast.parse(path.read_text(), filename=str(path)))
        for service in services:
            operations = operation_names(service)
            found.update((service, operations[name]) for name in names if name in operations)
    return frozenset(found)


def required_actions(operations: Iterable[tuple[str, str]]) -> set[str]:
    actions: set[str] = set()
    for service, operation in operations:
        actions.update(iam_actions(service, operation))
        actions.update(DEPENDENT.get((service, operation), ()))
    return actions


# ---------------------------------------------------------------------------- the policy


def policy() -> dict[str, Any]:
    return json.loads(POLICY.read_text())  # type: ignore[no-any-return]


def granted_actions() -> set[str]:
    actions: set[str] = set()
    for statement in policy()["Statement"]:
        assert statement["Effect"] == "Allow", statement
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def missing_from_policy(operations: Iterable[tuple[str, str]]) -> list[tuple[tuple[str, str], list[str]]]:
    """Operations whose IAM actions the policy does not grant, with the missing actions."""
    granted = granted_actions()
    missing = []
    for key in sorted(set(operations)):
        lacking = sorted(set(iam_actions(*key)) - granted)
        if lacking:
            missing.append((key, lacking))
    return missing


def statements_granting(action: str) -> list[dict[str, Any]]:
    return [
        s
        for s in policy()["Statement"]
        if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]


# ---------------------------------------------------------------------------- tests


def test_every_module_of_the_aws_package_is_classified() -> None:
    assert sorted(p.name for p in AWS_PACKAGE.glob("*.py")) == sorted(MODULE_SERVICES)


def test_the_scan_finds_the_calls_the_code_labels() -> None:
    # Every aws_call("service:Operation") label names an operation the scan found: a call
    # the scan cannot see (built dynamically) would show up here.
    prefixes = {
        IAM_PREFIX.get(service, service): service
        for services in MODULE_SERVICES.values()
        for service in services
    }
    labels: set[tuple[str, str]] = set()
    for path in AWS_PACKAGE.glob("*.py"):
        labels |= _labels(ast.parse(path.read_text()))
    assert labels, "no aws_call labels found: the scan is broken"
    unknown = {
        (prefix, op) for prefix, op in labels if (prefixes.get(prefix, prefix), op) not in code_operations()
    }
    assert not unknown, f"labelled calls the scan does not see: {sorted(unknown)}"


def test_the_policy_allows_every_operation_the_code_calls() -> None:
    lacking = required_actions(code_operations()) - granted_actions()
    assert not lacking, f"deploy/iam-policy.json lacks {sorted(lacking)}"


def test_the_policy_grants_nothing_the_code_does_not_call() -> None:
    unused = granted_actions() - required_actions(code_operations())
    assert not unused, f"deploy/iam-policy.json grants {sorted(unused)}, which no code path needs"


@pytest.mark.parametrize(
    "action", ["sagemaker:ListEndpoints", "sagemaker:ListTrainingJobs", "sagemaker:DescribeTrainingJob"]
)
def test_actions_no_code_calls_are_gone(action: str) -> None:
    assert action not in granted_actions()


def test_the_operations_the_suite_saw_are_allowed_and_known(request: pytest.FixtureRequest) -> None:
    from mlcost.embedded.moto_ext import dispatch
    from tests.conftest import OPERATIONS_CACHE_KEY

    seen = set(dispatch.operator_operations())
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    cached = cache.get(OPERATIONS_CACHE_KEY, []) if cache is not None else []
    seen |= {(service, operation) for service, operation in cached}
    if not seen:
        pytest.skip("no operator call recorded yet in this session or the last one")
    assert not missing_from_policy(seen)
    unknown = seen - code_operations()
    assert not unknown, f"the operator called {sorted(unknown)}, which the static scan does not find"


def test_pass_role_is_only_for_sagemaker() -> None:
    (statement,) = statements_granting("iam:PassRole")
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_kms_is_only_through_sagemaker() -> None:
    for action in ("kms:CreateGrant", "kms:DescribeKey"):
        (statement,) = statements_granting(action)
        assert statement["Condition"]["StringLike"] == {"kms:ViaService": "sagemaker.*.amazonaws.com"}
    (grant,) = statements_granting("kms:CreateGrant")
    assert grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


def test_assume_role_is_limited_to_mlcost_roles() -> None:
    (statement,) = statements_granting("sts:AssumeRole")
    assert statement["Resource"] == "arn:aws:iam::*:role/mlcost-*"


def test_the_service_linked_role_is_only_application_autoscalings() -> None:
    (statement,) = statements_granting("iam:CreateServiceLinkedRole")
    assert statement["Condition"] == {
        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
    }
