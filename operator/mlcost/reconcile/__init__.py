"""Orchestration without kopf: observe (aws) -> plan (domain) -> apply (aws) -> status."""
