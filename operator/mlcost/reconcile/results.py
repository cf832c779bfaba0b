"""What one reconcile produced: the status to write, Events to post, changes made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from mlcost.domain.errors import MlcostError


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the object."""

    type: EventType
    reason: str
    message: str


@dataclass(frozen=True)
class ObjectRef:
    """The custom resource being reconciled."""

    namespace: str
    name: str
    generation: int | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Outcome:
    """Events, applied (or, in a dry run, planned) changes, and the first error, if any."""

    events: list[Event] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    error: MlcostError | None = None

    def warn(self, reason: str, message: str) -> None:
        self.events.append(Event(EventType.WARNING, reason, message))

    def info(self, reason: str, message: str) -> None:
        self.events.append(Event(EventType.NORMAL, reason, message))
