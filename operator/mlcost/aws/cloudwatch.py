"""CloudWatch metrics of SageMaker endpoints, many series per GetMetricData call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from mlcost.aws.errors import aws_call
from mlcost.aws.session import AwsSessions, AwsTarget

# GetMetricData takes at most 500 metric queries per request.
MAX_QUERIES_PER_CALL = 500
INVOCATIONS_NAMESPACE = "AWS/SageMaker"


@dataclass(frozen=True)
class MetricQuery:
    """One series: a metric with its dimensions and the statistic of each `period`-second bucket."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int


@dataclass(frozen=True)
class Datapoint:
    timestamp: datetime
    value: Decimal


def allowed_period(seconds: int, start_age: timedelta) -> int:
    """`seconds` rounded up to a period CloudWatch accepts for a query starting `start_age` ago.

    CloudWatch keeps 1-minute data for 15 days, 5-minute data for 63 days and hourly data
    after that: a query starting more than 15 / 63 days ago must use a multiple of 300 / 3600
    seconds or it returns no data. Otherwise 60 s multiples, the finest period of
    regular-resolution metrics such as all of SageMaker's.
    """
    if start_age > timedelta(days=63):
        step = 3600
    elif start_age > timedelta(days=15):
        step = 300
    else:
        step = 60
    return -(-max(seconds, 1) // step) * step


def period_for(window: timedelta) -> int:
    """The period of one bucket covering a window that ends now."""
    return allowed_period(int(window.total_seconds()), start_age=window)


class MetricsReader:
    """Reads CloudWatch series for many endpoints and variants in as few calls as possible."""

    def __init__(self, sessions: AwsSessions) -> None:
        self._sessions = sessions

    def endpoint_invocations(
        self,
        target: AwsTarget,
        variants: list[tuple[str, str]],
        window: timedelta,
        now: datetime,
    ) -> dict[tuple[str, str], Decimal]:
        """Invocations of each (endpoint, variant) summed over `window` up to `now`; 0 without data."""
        period = period_for(window)
        queries = {
            (endpoint, variant): MetricQuery(
                namespace=INVOCATIONS_NAMESPACE,
                metric="Invocations",
                dimensions=(("EndpointName", endpoint), ("VariantName", variant)),
                stat="Sum",
                period=period,
            )
            for endpoint, variant in variants
        }
        series = self.datapoints(target, list(queries.values()), start=now - window, end=now)
        return {
            key: sum((point.value for point in series.get(query, [])), Decimal(0))
            for key, query in queries.items()
        }

    def datapoints(
        self, target: AwsTarget, queries: Sequence[MetricQuery], *, start: datetime, end: datetime
    ) -> dict[MetricQuery, list[Datapoint]]:
        """The datapoints of each query between start and end, oldest first (GetMetricData,
        500 queries per call, following NextToken); a query without data maps to []."""
        unique = list(dict.fromkeys(queries))
        found: dict[MetricQuery, list[Datapoint]] = {query: [] for query in unique}
        if not unique:
            return found
        cloudwatch = self._sessions.client("cloudwatch", target)
        for offset in range(0, len(unique), MAX_QUERIES_PER_CALL):
            batch = unique[offset : offset + MAX_QUERIES_PER_CALL]
            # Ids are only unique within a request: q<index in this batch>.
            by_id = {f"q{index}": query for index, query in enumerate(batch)}
            request: dict[str, Any] = {
                "MetricDataQueries": [_query_shape(qid, query) for qid, query in by_id.items()],
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            while True:
                with aws_call("cloudwatch:GetMetricData"):
                    page = cloudwatch.get_metric_data(**request)
                for result in page.get("MetricDataResults", []):
                    points = found[by_id[result["Id"]]]
                    points.extend(
                        Datapoint(timestamp, Decimal(str(value)))
                        for timestamp, value in zip(
                            result.get("Timestamps", []), result.get("Values", []), strict=False
                        )
                    )
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
        for points in found.values():
            points.sort(key=lambda point: point.timestamp)
        return found


def _query_shape(query_id: str, query: MetricQuery) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": query.namespace,
                "MetricName": query.metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in query.dimensions],
            },
            "Period": query.period,
            "Stat": query.stat,
        },
        "ReturnData": True,
    }
