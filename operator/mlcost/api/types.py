"""Scalar types of the API: money, percentages and durations as the manifests spell them."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel as _BaseModel
from pydantic import BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
DURATION_PATTERN = r"^[0-9]+(ms|s|m|h|d)$"

# Narrower spellings of the same strings for fields whose validators demand more than the type.
# The CRD carries them as `pattern` so the API server (and any OpenAPI validator) enforces what
# the field validators in the models enforce, with RE2/ECMA-compatible syntax only (no lookaround).
POSITIVE_DECIMAL_PATTERN = r"^([0-9]*[1-9][0-9]*(\.[0-9]+)?|0+\.[0-9]*[1-9][0-9]*)$"
"""A decimal string above 0: a non-zero digit before the point, or zeros and then one after it."""
PERCENT_PATTERN = r"^(0*100(\.0+)?|0*[1-9][0-9]?(\.[0-9]+)?|0+\.[0-9]*[1-9][0-9]*)$"
"""A decimal string above 0 and at most 100."""
MIN_1M_DURATION_PATTERN = (
    r"^0*([1-9][0-9]*(m|h|d)|([6-9][0-9]|[1-9][0-9]{2,})s|([6-9][0-9]{4}|[1-9][0-9]{5,})ms)$"
)
"""A duration of at least one minute: >= 1 m/h/d, >= 60 s or >= 60000 ms."""
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ApiModel(_BaseModel):
    """Base of every API object: camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
        validate_default=True,
    )

    def to_api(self) -> dict[str, Any]:
        """The object as it appears in a manifest or status (camelCase, unset fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _parse_decimal(value: Any) -> Decimal:
    # The API spells money and percentages as strings so YAML never rounds them through float.
    # A Decimal comes from code (defaults such as Decimal("60"), models built by the operator),
    # never from a manifest, and passes as long as it is a non-negative number.
    if isinstance(value, Decimal):
        if not value.is_finite() or value < 0:
            raise ValueError(f"must be a non-negative decimal, not {value}")
        return value
    if not isinstance(value, str):
        raise ValueError(f'must be a decimal string such as "80" or "0.23", not {value!r}')
    if not re.fullmatch(DECIMAL_PATTERN, value):
        raise ValueError(f'must be a non-negative decimal string such as "80" or "0.23", not "{value}"')
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above already rules it out
        raise ValueError(f'"{value}" is not a decimal number') from exc


def _format_decimal(value: Decimal) -> str:
    return format(value, "f")


def parse_duration(value: Any) -> timedelta:
    """Parse "90s", "30m", "12h", "7d" (and "250ms" for latencies) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f'must be a duration string such as "30m", "12h" or "7d", not {value!r}')
    match = re.fullmatch(DURATION_PATTERN, value)
    if not match:
        raise ValueError(
            f'"{value}" is not a duration: use a whole number and a unit ms, s, m, h or d, e.g. "12h"'
        )
    unit = match.group(1)
    return timedelta(seconds=int(value[: -len(unit)]) * _DURATION_UNITS[unit])


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of a duration in the API's units."""
    millis = round(value.total_seconds() * 1000)
    for unit in ("d", "h", "m", "s"):
        size = int(_DURATION_UNITS[unit] * 1000)
        if millis and millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


Money = Annotated[
    Decimal,
    BeforeValidator(_parse_decimal),
    PlainSerializer(_format_decimal, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN}),
]
"""US dollars as a decimal string ("5000", "0.23")."""

Percent = Money
"""A percentage as a decimal string ("80")."""

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]
"""A duration: a whole number and a unit ms, s, m, h or d ("30m", "7d")."""
