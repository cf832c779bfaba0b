"""The fake Kubernetes API fixture, shared with the operator tests."""

from tests.operator.conftest import kube

__all__ = ["kube"]
