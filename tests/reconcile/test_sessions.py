"""Role sessions: assumed once, shared by every client, and refreshed before they expire."""

from __future__ import annotations

from datetime import timedelta

import boto3

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
