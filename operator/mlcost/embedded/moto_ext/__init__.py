"""Extensions of moto 5.2.5 for the AWS operations it lacks; install() patches moto once."""

from __future__ import annotations

import threading
import warnings

import moto

from . import (
    applicationautoscaling,
    budgets,
    ce,
    dispatch,
    inference_recommender,
    pricing,
    routes,
    sagemaker,
    sagemaker_search,
    savingsplans,
)

__all__ = ["MOTO_VERSION", "install", "installed"]

# The extensions patch moto internals measured on this version; check them when it moves.
MOTO_VERSION = "5.2.5"

_lock = threading.Lock()
_installed = threading.Event()


def install() -> None:
    """Patch moto's classes in this process: budgets, ce, sagemaker (with Inference Recommender),
    application-autoscaling tags, pricing, savingsplans, dispatch, /moto-api routes.

    Idempotent and thread-safe. Must run before a moto server serves its first request.
    """
    with _lock:
        if _installed.is_set():
            return
        if moto.__version__ != MOTO_VERSION:
            warnings.warn(
                f"mlcost's moto extensions were written for moto {MOTO_VERSION}, found {moto.__version__}",
                RuntimeWarning,
                stacklevel=2,
            )
        dispatch.install()
        budgets.install()
        ce.install()
        sagemaker.install()
        sagemaker_search.install()
        inference_recommender.install()
        applicationautoscaling.install()
        pricing.install()
        # After pricing: both route requests of services moto lacks, savingsplans' router first.
        savingsplans.install()
        routes.install()
        _installed.set()


def installed() -> bool:
    """Whether install() has run in this process."""
    return _installed.is_set()
