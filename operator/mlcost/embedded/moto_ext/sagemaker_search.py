"""SageMaker Search for moto: the reference's filters, Or, sorting and paging for TrainingJob and Endpoint.

moto 5.2.5's Search returns every match in one page (no MaxResults, no NextToken), treats
GreaterThan/LessThan as Equals, ignores SubExpressions, NestedFilters and Operator, and stops at
the first Tags filter. The operator reads training jobs and endpoints with Search (100 full
records with their tags per call), so for those two resources this follows the AWS API
reference (API_Search, API_SearchExpression, API_Filter, API_NestedFilters); other resources
keep moto's own implementation. Not modelled: TotalHits, CrossAccountFilterOption,
VisibilityConditions, and AWS's check of property names (an unknown property is absent here).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.sagemaker.exceptions import AWSValidationException
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from ._common import original, patch

__all__ = ["install", "search"]

# Resources whose records this extension builds; the others go to moto's Search.
_SOURCES: dict[str, Callable[[SageMakerModelBackend], Iterable[Any]]] = {
    "TrainingJob": lambda backend: backend.training_jobs.values(),
    "Endpoint": lambda backend: backend.endpoints.values(),
}
_OPERATORS = frozenset(
    {
        "Equals",
        "NotEquals",
        "GreaterThan",
        "GreaterThanOrEqualTo",
        "LessThan",
        "LessThanOrEqualTo",
        "Contains",
        "Exists",
        "NotExists",
        "In",
    }
)
_ORDERING = frozenset({"GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo"})
# The reference: at most 50 Filters, NestedFilters and SubExpressions in all, recursively.
_MAX_CONDITIONS = 50
# AWS does not document Search's default page size; 10 is assumed (the operator always sends
# MaxResults).
_DEFAULT_MAX_RESULTS = 10


class _Missing:
    """A property the record does not have (distinct from a present None)."""


MISSING = _Missing()


@lru_cache(maxsize=1024)
def _attribute(name: str) -> str:
    # Property names repeat for every resource of a search; converting them is not free.
    return camelcase_to_underscores(name)


class _Record(Mapping[str, Any]):
    """A resource's properties by API name, read from moto's object on demand.

    Equal to the object's response_object (API names, None left out, <Resource>Arn) without
    building it: a Search evaluates every resource but returns only a page of them.
    """

    def __init__(self, item: Any, arn_key: str) -> None:
        self.item = item
        self._arn_key = arn_key

    def __getitem__(self, key: str) -> Any:
        value = self.item.arn if key == self._arn_key else getattr(self.item, _attribute(key), None)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.item.response_object)

    def __len__(self) -> int:
        return len(self.item.response_object)


def _invalid(message: str) -> AWSValidationException:
    return AWSValidationException(message)


def _utc(moment: datetime) -> datetime:
    # moto keeps naive UTC datetimes; a filter value may carry an offset.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lookup(record: Mapping[str, Any], name: str) -> Any:
    """The value of a property path (`A.B`, `Tags.<key>`, `Metrics.<name>`); a list of values
    when the path crosses a list; MISSING when absent."""
    head, _, rest = name.partition(".")
    if head == "Tags" and rest:
        tags = {t["Key"]: t["Value"] for t in record.get("Tags") or []}
        return tags.get(rest, MISSING)
    if head == "Metrics" and rest and "FinalMetricDataList" in record:
        values = [m["Value"] for m in record["FinalMetricDataList"] if m.get("MetricName") == rest]
        return values[-1] if values else MISSING
    return _walk(record, name.split("."))


def _walk(value: Any, path: list[str]) -> Any:
    if not path:
        return value
    if isinstance(value, list):
        each = [v for v in (_walk(item, path) for item in value) if v is not MISSING]
        return each or MISSING
    child = value.get(path[0]) if isinstance(value, Mapping) else None
    return MISSING if child is None else _walk(child, path[1:])


def _number(text: str, name: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as error:
        raise _invalid(f"Value '{text}' for property {name} is not a number.") from error


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.ne,
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
    "Contains": lambda actual, expected: expected in actual,
    "In": lambda actual, expected: actual in [v.strip() for v in expected.split(",")],
}


@lru_cache(maxsize=256)
def _timestamp(value: str, name: str) -> datetime:
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError as error:
        raise _invalid(
            f"Value '{value}' for timestamp property {name} must be an ISO 8601 date-time "
            "(YYYY-mm-ddTHH:MM:SS)."
        ) from error


def _compare_one(actual: Any, op: str, value: str, name: str) -> bool:
    expected: Any
    if isinstance(actual, bool):
        expected = value.lower() == "true"
    elif isinstance(actual, datetime):
        expected, actual = _timestamp(value, name), _utc(actual)
    elif isinstance(actual, int | float | Decimal):
        expected, actual = _number(value, name), Decimal(str(actual))
    else:
        if op in _ORDERING:
            raise _invalid(f"Operator {op} is not supported for text property {name}.")
        actual, expected = str(actual), value
    if op in ("In", "Contains") and not isinstance(actual, str):
        raise _invalid(f"Operator {op} is only supported for text properties, not {name}.")
    return bool(_COMPARISONS[op](actual, expected))


def _matches_filter(record: Mapping[str, Any], raw: dict[str, Any]) -> bool:
    name = raw["Name"]
    value = raw.get("Value")
    # The reference: a Value without an Operator means Equals.
    op = raw.get("Operator") or "Equals"
    if op not in _OPERATORS:
        raise _invalid(f"Value '{op}' at 'operator' failed to satisfy constraint.")
    actual = _lookup(record, name)
    if op == "Exists":
        return actual is not MISSING
    if op == "NotExists":
        return actual is MISSING
    if value is None:
        raise _invalid(f"Filter on {name} with operator {op} needs a Value.")
    if actual is MISSING:
        return op == "NotEquals"
    candidates = actual if isinstance(actual, list) else [actual]
    if op == "NotEquals":
        return all(_compare_one(a, op, value, name) for a in candidates)
    return any(_compare_one(a, op, value, name) for a in candidates)


def _matches_nested(record: Mapping[str, Any], nested: dict[str, Any]) -> bool:
    # One element of the list property must satisfy every filter (filter names are
    # full paths, e.g. InputDataConfig.ChannelName, relative to the resource).
    prop = nested["NestedPropertyName"]
    elements = _lookup(record, prop)
    if elements is MISSING:
        return False
    items = elements if isinstance(elements, list) else [elements]
    prefix = prop + "."
    for item in items:
        element = item if isinstance(item, Mapping) else {}
        if all(
            _matches_filter(element, {**f, "Name": f["Name"].removeprefix(prefix)})
            for f in nested.get("Filters", [])
        ):
            return True
    return False


def _count(expression: dict[str, Any]) -> int:
    own = len(expression.get("Filters") or []) + len(expression.get("NestedFilters") or [])
    subs = expression.get("SubExpressions") or []
    return own + len(subs) + sum(_count(s) for s in subs)


def _matches(record: Mapping[str, Any], expression: dict[str, Any]) -> bool:
    results = (
        [_matches_filter(record, f) for f in expression.get("Filters") or []]
        + [_matches_nested(record, n) for n in expression.get("NestedFilters") or []]
        + [_matches(record, s) for s in expression.get("SubExpressions") or []]
    )
    if expression.get("Operator", "And") == "Or":
        return any(results)
    return all(results)


def _sort_key(record: Mapping[str, Any], sort_by: str) -> tuple[int, Any]:
    value = _lookup(record, sort_by)
    if value is MISSING or isinstance(value, list):
        return (1, "")
    if isinstance(value, datetime):
        return (0, _utc(value).timestamp())
    return (0, value)


def search(
    self: SageMakerModelBackend,
    resource: str | None = None,
    search_expression: dict[str, Any] | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """Search: the matching records of `resource`, sorted, one page at a time."""
    source = _SOURCES.get(resource or "")
    if source is None:
        return original(SageMakerModelBackend, "search")(self, resource, search_expression)  # type: ignore[no-any-return]
    expression = search_expression or {}
    if search_expression is not None and _count(expression) == 0:
        raise _invalid("A SearchExpression needs at least one Filter, NestedFilter or SubExpression.")
    if _count(expression) > _MAX_CONDITIONS:
        raise _invalid(f"A SearchExpression may hold at most {_MAX_CONDITIONS} conditions in all.")
    limit = _DEFAULT_MAX_RESULTS if max_results is None else int(max_results)
    if not 1 <= limit <= 100:
        raise _invalid(f"Value '{limit}' at 'maxResults' failed to satisfy constraint: 1 <= value <= 100.")
    try:
        start = int(next_token) if next_token else 0
    except ValueError as error:
        raise _invalid("The NextToken is not valid.") from error
    arn_key = f"{resource}Arn"
    found = [r for r in (_Record(item, arn_key) for item in source(self)) if _matches(r, expression)]
    key = sort_by or "LastModifiedTime"
    keyed = [(_sort_key(r, key), r) for r in found]
    # Records without the sort property come last in either order.
    present = [(k[1], r) for k, r in keyed if k[0] == 0]
    absent = [r for k, r in keyed if k[0] == 1]
    present.sort(key=lambda pair: pair[0], reverse=(sort_order or "Descending") == "Descending")
    ordered = [r for _, r in present] + absent
    page = ordered[start : start + limit]
    result: dict[str, Any] = {"Results": [{resource: r.item.response_object} for r in page]}
    if start + limit < len(ordered):
        result["NextToken"] = str(start + limit)
    return result


def _r_search(self: SageMakerResponse) -> ActionResult:
    return ActionResult(
        search(
            self.sagemaker_backend,
            resource=self._get_param("Resource"),
            search_expression=self._get_param("SearchExpression"),
            sort_by=self._get_param("SortBy"),
            sort_order=self._get_param("SortOrder"),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        )
    )


def install() -> None:
    """Patch moto's SageMaker Search (backend and response)."""
    patch(SageMakerModelBackend, "search", search)
    patch(SageMakerResponse, "search", _r_search)
