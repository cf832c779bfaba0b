"""Fixtures for tests against the embedded AWS: one server per session, reset before each test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import boto3
import pytest
from botocore.config import Config

from mlcost.embedded.server import EmbeddedAws

ClientFactory = Callable[..., Any]


@pytest.fixture(autouse=True)
def _reset_embedded_aws(embedded_aws: EmbeddedAws) -> None:
    # Every test starts from an empty account with no queued results, faults or counts.
    embedded_aws.reset()


@pytest.fixture
def aws_client(embedded_aws: EmbeddedAws) -> ClientFactory:
    """aws_client("budgets") -> a boto3 client of the embedded AWS.

    attempts is botocore's total_max_attempts: 1 (the default here) sends each call once,
    so an injected error reaches the test instead of being retried away.
    """

    def make(service: str, *, attempts: int = 1) -> Any:
        # cast: boto3-stubs overloads client() per literal service name.
        return cast(Any, boto3.client)(
            service,
            endpoint_url=embedded_aws.endpoint_url,
            region_name=embedded_aws.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
        )

    return make
