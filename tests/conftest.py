"""Fixtures shared by every test folder: the embedded AWS (moto server) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest

from mlcost.embedded.server import EmbeddedAws


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[EmbeddedAws]:
    """The embedded AWS (moto server plus extensions) on a free port of 127.0.0.1."""
    with EmbeddedAws() as aws:
        yield aws


def client_of(aws: EmbeddedAws, service: str) -> Any:
    """A plain boto3 client of the embedded AWS: someone other than the operator, e.g. the console."""
    return cast(Any, boto3.client)(
        service,
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
