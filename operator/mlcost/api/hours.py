"""Weekly hours such as "Mon-Fri 07:00-20:00": parsing and membership, in local wall time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_HOURS = re.compile(
    r"^(?P<first>[A-Z][a-z]{2})(-(?P<last>[A-Z][a-z]{2}))? (?P<start>\d\d:\d\d)-(?P<end>\d\d:\d\d)$"
)


def _minutes(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ValueError(f'"{text}" is not a time of day between 00:00 and 24:00')
    return hours * 60 + minutes


@dataclass(frozen=True)
class WeeklyHours:
    """A range of weekdays (it may wrap, e.g. Sat-Mon) and a daytime range start < end."""

    days: frozenset[int]  # 0 = Monday, as datetime.weekday()
    start_minute: int
    end_minute: int

    @classmethod
    def parse(cls, text: str) -> WeeklyHours:
        match = _HOURS.match(text)
        if not match:
            raise ValueError(f'"{text}" is not of the form "Mon-Fri 07:00-20:00"')
        first, last = match["first"], match["last"] or match["first"]
        for day in (first, last):
            if day not in DAYS:
                raise ValueError(f'"{day}" is not a weekday: use one of {", ".join(DAYS)}')
        start, end = _minutes(match["start"]), _minutes(match["end"])
        if start >= end:
            raise ValueError(
                f'the hours in "{text}" end before they start: overnight ranges are not supported, '
                "use two policies or widen the range"
            )
        i, j = DAYS.index(first), DAYS.index(last)
        days = frozenset((i + k) % 7 for k in range((j - i) % 7 + 1))
        return cls(days, start, end)

    def contains(self, moment: datetime, timezone: str) -> bool:
        """Whether `moment` (aware) falls inside these hours in `timezone` (DST included)."""
        local = moment.astimezone(ZoneInfo(timezone))
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start_minute <= minute < self.end_minute
