"""Tests of the kopf operator against the fake Kubernetes API (see tests/kube)."""
