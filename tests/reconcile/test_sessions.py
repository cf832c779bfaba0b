"""Role sessions: assumed once, shared by every client, and refreshed before they expire."""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from mlcost.aws.session import AwsSessions, CountingRecorder
from mlcost.embedded.server import EmbeddedAws

ROLE = "arn:aws:iam::111122223333:role/mlcost-governor"


def test_assumed_role_is_reused_then_refreshed_before_expiry(aws: EmbeddedAws) -> None:
    sessions = AwsSessions(
        default_region="us-east-1",
        endpoint_url=aws.endpoint_url,
        recorder=CountingRecorder(),
        base_session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
    )
    target = sessions.target(None, ROLE)

    assert sessions.account_id(target) == "111122223333"
    sessions.client("budgets", target).describe_budgets(AccountId="111122223333")
    sessions.client("ce", target)
    assert aws.calls()[("sts", "AssumeRole")] == 1

    # Pretend the credentials are about to expire: botocore refreshes them on the next call.
    credentials = sessions.client("budgets", target)._request_signer._credentials
    credentials._expiry_time = credentials._expiry_time - timedelta(hours=1)
    sessions.client("budgets", target).describe_budgets(AccountId="111122223333")

    assert aws.calls()[("sts", "AssumeRole")] == 2


def sessions_of(aws: EmbeddedAws) -> AwsSessions:
    return AwsSessions(
        default_region="us-east-1",
        endpoint_url=aws.endpoint_url,
        max_attempts=5,
        base_session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
    )


def test_account_of_a_role_is_asked_once_by_concurrent_policies(aws: EmbeddedAws) -> None:
    sessions = sessions_of(aws)
    target = sessions.target(None, ROLE)

    with ThreadPoolExecutor(max_workers=16) as pool:
        accounts = set(pool.map(lambda _: sessions.account_id(target), range(64)))

    assert accounts == {"111122223333"}
    assert aws.calls()[("sts", "GetCallerIdentity")] == 1
    assert aws.calls()[("sts", "AssumeRole")] == 1


def test_cost_explorer_retries_once_where_other_services_retry_more(aws: EmbeddedAws) -> None:
    # Each Cost Explorer request costs $0.01, retries included: one retry on a 5xx, not four.
    sessions = sessions_of(aws)
    target = sessions.target(None, None)
    aws.inject_error("ce", "ListCostAllocationTags", "InternalServerException", "boom", count=None)
    aws.inject_error("budgets", "DescribeBudgets", "InternalErrorException", "boom", count=None)

    with pytest.raises(ClientError):
        sessions.client("ce", target).list_cost_allocation_tags()
    with pytest.raises(ClientError):
        sessions.client("budgets", target).describe_budgets(AccountId="123456789012")

    assert aws.calls()[("ce", "ListCostAllocationTags")] == 2
    assert aws.calls()[("budgets", "DescribeBudgets")] == 5


def _holds_an_ordered_dict(value: object) -> bool:
    if isinstance(value, OrderedDict):
        return True
    if isinstance(value, dict):
        return any(_holds_an_ordered_dict(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_an_ordered_dict(v) for v in value)
    return False


def test_every_role_shares_one_plain_copy_of_each_service_model(aws: EmbeddedAws) -> None:
    # A multi-account setup: one role per team account. Each botocore session would load its
    # own copy of the SageMaker model (about 9 MiB of Python objects), as OrderedDicts.
    sessions = sessions_of(aws)
    roles = [ROLE, "arn:aws:iam::444455556666:role/mlcost-governor"]
    clients = [sessions.client("sagemaker", sessions.target(None, role)) for role in [None, *roles]]

    models = [c.meta.service_model._service_description for c in clients]
    assert all(model is models[0] for model in models)
    assert not _holds_an_ordered_dict(models[0])
    # And they work: each role's client answers (the embedded AWS takes any role).
    for client in clients:
        assert client.list_notebook_instances()["NotebookInstances"] == []
