"""A fake Kubernetes API (with the project's CRDs) per test, its namespace team-a in place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kube.fake_api import FakeKubeAPI

NS = "team-a"


@pytest.fixture
def kube() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as api:
        api.ensure_namespace(NS)
        yield api
        errors = api.server_errors()
    assert not errors, f"the fake API failed internally: {errors!r}"
