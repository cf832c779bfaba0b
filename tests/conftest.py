"""Fixtures shared by every test folder: the embedded AWS (moto server) on loopback.

The embedded AWS runs in strict mode for the whole suite (MLCOST_EMBEDDED_STRICT=1, which
processes started by tests inherit, e.g. `mlcost demo`): an extension answer that does not
match botocore's output shape is a 501 naming the difference, and the test during which it
happened fails even if it caught the error. The operations the operator's own clients send
are recorded; at the end of the session they are checked against deploy/iam-policy.json.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest

from mlcost.embedded.moto_ext import dispatch
from mlcost.embedded.server import EmbeddedAws

# Before any EmbeddedAws starts, in this process and in every process a test starts.
os.environ[dispatch.STRICT_ENV] = "1"
# Never the user's endpoint-config cache, also for fixtures wider than a test and for children.
os.environ["MLCOST_CACHE_DIR"] = tempfile.mkdtemp(prefix="mlcost-cache-")


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test its own endpoint-config cache (the CLI's and a local operator's): never the
    # user's, and never one that an earlier test filled.
    monkeypatch.setenv("MLCOST_CACHE_DIR", str(tmp_path_factory.mktemp("mlcost-cache")))


# Where the session leaves the operations the operator sent (tests/deploy/test_iam_policy.py
# reads it on the next run; pytest's cache directory, so never committed).
OPERATIONS_CACHE_KEY = "mlcost/aws-operator-operations"


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[EmbeddedAws]:
    """The embedded AWS (moto server plus extensions, strict) on a free port of 127.0.0.1."""
    with EmbeddedAws(strict=True) as aws:
        yield aws


@pytest.fixture(autouse=True)
def _no_malformed_aws_answer() -> Iterator[None]:
    # Module state, so it also sees servers that tests start themselves.
    dispatch.clear_shape_errors()
    yield
    if dispatch.shape_errors():
        found = "\n".join(f"  {error}" for error in dispatch.shape_errors())
        dispatch.clear_shape_errors()
        pytest.fail(
            "the embedded AWS answered with shapes AWS never sends (fix the extension in "
            f"mlcost/embedded/moto_ext):\n{found}",
            pytrace=False,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    seen = sorted(dispatch.operator_operations())
    if not seen:
        return
    cache = getattr(session.config, "cache", None)  # None under -p no:cacheprovider
    if cache is not None:
        cache.set(OPERATIONS_CACHE_KEY, [list(pair) for pair in seen])
    # Imported late: the check lives with the IAM test.
    from tests.deploy.test_iam_policy import missing_from_policy

    missing = missing_from_policy({(service, operation) for service, operation in seen})
    if missing:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            "deploy/iam-policy.json lacks permissions for operations the operator called:\n"
            + "\n".join(
                f"  {service}:{operation} needs {', '.join(actions)}"
                for (service, operation), actions in missing
            )
        )
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def client_of(aws: EmbeddedAws, service: str) -> Any:
    """A plain boto3 client of the embedded AWS: someone other than the operator, e.g. the console."""
    return cast(Any, boto3.client)(
        service,
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
