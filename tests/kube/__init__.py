"""Kubernetes test doubles: a fake API server (kmock-based) and a harness that runs kopf on it."""
