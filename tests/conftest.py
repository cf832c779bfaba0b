"""Fixtures shared by every test folder: the embedded AWS (moto server) on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlcost.embedded.server import EmbeddedAws


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[EmbeddedAws]:
    """The embedded AWS (moto server plus extensions) on a free port of 127.0.0.1."""
    with EmbeddedAws() as aws:
        yield aws
