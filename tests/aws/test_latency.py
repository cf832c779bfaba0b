"""The embedded AWS's injected latency: every AWS request waits it, server-side, in parallel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mlcost.embedded.server import EmbeddedAws

from .conftest import ClientFactory

LATENCY_MS = 300


@pytest.fixture
def slow_aws(embedded_aws: EmbeddedAws) -> Iterator[EmbeddedAws]:
    # The session's server is shared: the latency must not outlive the test.
    embedded_aws.set_latency(LATENCY_MS)
    try:
        yield embedded_aws
    finally:
        embedded_aws.set_latency(0)


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_every_aws_request_waits_the_latency_and_reset_keeps_it(
    embedded_aws: EmbeddedAws, aws_client: ClientFactory
) -> None:
    sagemaker = aws_client("sagemaker")
    sagemaker.list_notebook_instances()  # connect before timing
    assert _timed(sagemaker.list_notebook_instances) < LATENCY_MS / 1000

    embedded_aws.set_latency(LATENCY_MS)
    try:
        assert embedded_aws.latency_ms == LATENCY_MS
        assert _timed(sagemaker.list_notebook_instances) >= LATENCY_MS / 1000
        # Every service waits, not only SageMaker.
        budgets = aws_client("budgets")
        assert (
            _timed(lambda: budgets.describe_budgets(AccountId=embedded_aws.account_id)) >= LATENCY_MS / 1000
        )
        # The hooks are not AWS: reset() answers at once and keeps the setting.
        assert _timed(embedded_aws.reset) < LATENCY_MS / 1000
        assert _timed(sagemaker.list_notebook_instances) >= LATENCY_MS / 1000
    finally:
        embedded_aws.set_latency(0)
    assert _timed(sagemaker.list_notebook_instances) < LATENCY_MS / 1000


def test_concurrent_requests_wait_in_parallel(slow_aws: EmbeddedAws, aws_client: ClientFactory) -> None:
    clients = [aws_client("sagemaker") for _ in range(4)]
    with ThreadPoolExecutor(len(clients)) as pool:
        started = time.perf_counter()
        list(pool.map(lambda client: client.list_endpoints(), clients))
        seconds = time.perf_counter() - started
    # In series the four would take 4 x 300 ms; as on AWS, they overlap.
    assert LATENCY_MS / 1000 <= seconds < 2.5 * LATENCY_MS / 1000
    assert slow_aws.calls()[("sagemaker", "ListEndpoints")] == 4


def test_a_negative_latency_is_refused(embedded_aws: EmbeddedAws) -> None:
    with pytest.raises(ValueError, match="at least 0"):
        embedded_aws.set_latency(-1)
    assert embedded_aws.latency_ms == 0
