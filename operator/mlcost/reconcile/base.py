"""What both reconcilers share: AWS sessions, a clock, the target of a spec, condition updates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from mlcost.api.common import AwsTarget as AwsSpec
from mlcost.api.common import ConditionStatus
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain import conditions as cond
from mlcost.reconcile.results import ObjectRef, utcnow


class HasAws(Protocol):
    @property
    def aws(self) -> AwsSpec | None: ...


class Reconciler:
    def __init__(self, sessions: AwsSessions, clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.clock = clock

    def target(self, spec: HasAws) -> AwsTarget:
        """Region and role of spec.aws, defaulting to the operator's own."""
        aws = spec.aws
        return self.sessions.target(aws.region if aws else None, aws.role_arn if aws else None)

    @staticmethod
    def _set(
        status: cond.HasConditions,
        type_: str,
        ok: bool | ConditionStatus,
        reason: str,
        message: str,
        now: datetime,
        ref: ObjectRef,
    ) -> None:
        cond.set_on(status, type_, ok, reason, message, now=now, generation=ref.generation)
