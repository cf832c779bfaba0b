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
# Instance metrics of real-time endpoints (CPU, memory, GPU, disk).
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
# Five-minute buckets keep short peaks visible and a 14-day window at 4,032 points a series.
UTILIZATION_PERIOD = 300


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


@dataclass(frozen=True)
class SeriesSummary:
    """One metric of a variant over a window: peak and sum of its per-period values."""

    peak: Decimal | None
    total: Decimal
    samples: int  # periods with a datapoint
    first: datetime | None  # the oldest datapoint

    @classmethod
    def of(cls, points: Sequence[Datapoint]) -> SeriesSummary:
        return cls(
            peak=max((p.value for p in points), default=None),
            total=sum((p.value for p in points), Decimal(0)),
            samples=len(points),
            first=min((p.timestamp for p in points), default=None),
        )


@dataclass(frozen=True)
class VariantMetrics:
    """A variant's load over a window, as CloudWatch reports it (peaks of `period`-second buckets).

    cpu and gpu are percentages of one core / one GPU, summed over all of them (400 = four
    vCPUs busy); memory and gpu_memory percentages of the whole instance; model_latency is
    in microseconds; invocations_per_instance is the peak of SageMaker's per-minute values.
    """

    period: int
    invocations: SeriesSummary  # Sum
    invocations_per_instance: SeriesSummary  # Sum per minute
    model_latency: SeriesSummary  # Maximum
    cpu: SeriesSummary  # Maximum
    memory: SeriesSummary  # Maximum
    gpu: SeriesSummary  # Maximum
    gpu_memory: SeriesSummary  # Maximum

    def _all(self) -> tuple[SeriesSummary, ...]:
        return (
            self.invocations,
            self.invocations_per_instance,
            self.model_latency,
            self.cpu,
            self.memory,
            self.gpu,
            self.gpu_memory,
        )

    @property
    def samples(self) -> int:
        """The most periods any one metric has data for."""
        return max(series.samples for series in self._all())

    @property
    def first_datapoint(self) -> datetime | None:
        return min((s.first for s in self._all() if s.first is not None), default=None)

    @property
    def has_gpu(self) -> bool:
        return self.gpu.samples > 0 or self.gpu_memory.samples > 0


# VariantMetrics field -> (namespace, metric, statistic)
# name -> (namespace, metric, statistic, period in seconds before CloudWatch's retention rounding)
_VARIANT_SERIES = {
    "invocations": (INVOCATIONS_NAMESPACE, "Invocations", "Sum", UTILIZATION_PERIOD),
    # Each request adds 1/instances to InvocationsPerInstance, so only a per-minute Sum is a
    # rate: its peak is the busiest minute's invocations per instance.
    "invocations_per_instance": (INVOCATIONS_NAMESPACE, "InvocationsPerInstance", "Sum", 60),
    "model_latency": (INVOCATIONS_NAMESPACE, "ModelLatency", "Maximum", UTILIZATION_PERIOD),
    "cpu": (INSTANCE_NAMESPACE, "CPUUtilization", "Maximum", UTILIZATION_PERIOD),
    "memory": (INSTANCE_NAMESPACE, "MemoryUtilization", "Maximum", UTILIZATION_PERIOD),
    "gpu": (INSTANCE_NAMESPACE, "GPUUtilization", "Maximum", UTILIZATION_PERIOD),
    "gpu_memory": (INSTANCE_NAMESPACE, "GPUMemoryUtilization", "Maximum", UTILIZATION_PERIOD),
}


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

    def endpoint_utilization(
        self,
        target: AwsTarget,
        endpoint: str,
        variants: list[str],
        window: timedelta,
        now: datetime,
    ) -> dict[str, VariantMetrics]:
        """Each variant's invocations, latency and instance utilisation over `window` up to `now`.

        Seven series a variant in one GetMetricData request (more only past 500 series or
        100,800 datapoints), in UTILIZATION_PERIOD buckets or the coarser period CloudWatch
        keeps for an older start. A metric without data has samples 0 and peak None.
        """
        period = allowed_period(UTILIZATION_PERIOD, start_age=window)
        queries = {
            (variant, name): MetricQuery(
                namespace=namespace,
                metric=metric,
                dimensions=(("EndpointName", endpoint), ("VariantName", variant)),
                stat=stat,
                period=allowed_period(base_period, start_age=window),
            )
            for variant in variants
            for name, (namespace, metric, stat, base_period) in _VARIANT_SERIES.items()
        }
        series = self.datapoints(target, list(queries.values()), start=now - window, end=now)
        return {
            variant: VariantMetrics(
                period=period,
                **{name: SeriesSummary.of(series[queries[(variant, name)]]) for name in _VARIANT_SERIES},
            )
            for variant in variants
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
