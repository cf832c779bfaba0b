"""Thin kopf handlers: parse, call reconcile, patch status, post Events, map errors."""
