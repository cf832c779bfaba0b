"""CloudWatch metrics of SageMaker endpoints, many series per GetMetricData call."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
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
    vCPUs busy), of the busiest instance; memory and gpu_memory percentages of the whole
    instance; model_latency is in microseconds.

    The whole variant's load is measured per bucket, with the instances that served it then
    (never today's count): cpu_total / gpu_total are the bucket's Maximum times the instances
    reporting in that bucket, and instances_at_peak that count at cpu_total's peak.
    invocations_per_minute is the variant's requests per minute (each bucket's Invocations Sum
    divided by its minutes), invocations_per_instance that over the instances reporting then.
    period is the utilisation buckets' length, invocations_period the invocation buckets'.
    """

    period: int
    invocations: SeriesSummary  # Sum per invocations_period bucket
    invocations_per_instance: SeriesSummary  # per minute
    model_latency: SeriesSummary  # Maximum
    cpu: SeriesSummary  # Maximum
    memory: SeriesSummary  # Maximum
    gpu: SeriesSummary  # Maximum
    gpu_memory: SeriesSummary  # Maximum
    invocations_period: int = 60
    invocations_per_minute: SeriesSummary = SeriesSummary(None, Decimal(0), 0, None)
    cpu_total: SeriesSummary = SeriesSummary(None, Decimal(0), 0, None)
    gpu_total: SeriesSummary = SeriesSummary(None, Decimal(0), 0, None)
    instances_at_peak: Decimal | None = None

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


# name -> (namespace, metric, statistic, period in seconds before CloudWatch's retention rounding)
_VARIANT_SERIES = {
    # Per-minute Sums where CloudWatch still has them: the busiest minute is the peak to size
    # for. Past 15 days the period is 300 s or 3600 s, and each Sum is divided by its minutes.
    # InvocationsPerInstance is not read: it is Invocations / instances (each request adds
    # 1/instances to it), which the instances reporting below give, for one series less.
    "invocations": (INVOCATIONS_NAMESPACE, "Invocations", "Sum", 60),
    "model_latency": (INVOCATIONS_NAMESPACE, "ModelLatency", "Maximum", UTILIZATION_PERIOD),
    "cpu": (INSTANCE_NAMESPACE, "CPUUtilization", "Maximum", UTILIZATION_PERIOD),
    # Every instance publishes one CPUUtilization datapoint a minute to the variant's series, so
    # a bucket's SampleCount divided by its minutes is the number of instances reporting then.
    "cpu_samples": (INSTANCE_NAMESPACE, "CPUUtilization", "SampleCount", UTILIZATION_PERIOD),
    "memory": (INSTANCE_NAMESPACE, "MemoryUtilization", "Maximum", UTILIZATION_PERIOD),
    "gpu": (INSTANCE_NAMESPACE, "GPUUtilization", "Maximum", UTILIZATION_PERIOD),
    "gpu_memory": (INSTANCE_NAMESPACE, "GPUMemoryUtilization", "Maximum", UTILIZATION_PERIOD),
}
# CloudWatch keeps hourly data 455 days (15 months): nothing older can be read.
MAX_LOOKBACK = timedelta(days=455)


def per_minute(points: Sequence[Datapoint], period: int) -> list[Datapoint]:
    """Sums of `period`-second buckets as per-minute rates: each divided by its minutes."""
    minutes = Decimal(period) / 60
    return [Datapoint(p.timestamp, p.value / minutes) for p in points]


def instances_reporting(samples: Sequence[Datapoint], period: int) -> dict[datetime, Decimal]:
    """Instances reporting in each bucket: its SampleCount over its minutes, at least 1.

    An instance that ran for part of a bucket counts as that part; a bucket with any
    datapoint had at least one instance.
    """
    minutes = Decimal(period) / 60
    return {p.timestamp: max(Decimal(1), p.value / minutes) for p in samples}


def per_instance(
    rates: Sequence[Datapoint], instances: Mapping[datetime, Decimal], period: int
) -> list[Datapoint]:
    """Each rate divided by the instances reporting in the utilisation bucket it falls in.

    Buckets are found by time (the `period`-second bucket holding the rate's timestamp), so a
    60 s rate inside a 300 s bucket uses that bucket's count; rates outside every bucket
    (no CPUUtilization then) are left out, since nothing says how many instances served them.
    """
    starts = sorted(instances)
    found = []
    for rate in rates:
        index = bisect.bisect_right(starts, rate.timestamp) - 1
        if index >= 0 and rate.timestamp < starts[index] + timedelta(seconds=period):
            found.append(Datapoint(rate.timestamp, rate.value / instances[starts[index]]))
    return found


def whole_variant(
    peaks: Sequence[Datapoint], instances: Mapping[datetime, Decimal]
) -> tuple[list[Datapoint], dict[datetime, Decimal]]:
    """Per bucket, the busiest instance's figure times the instances reporting then.

    A bucket without a SampleCount (should not happen: the same metric) counts the most
    instances seen in the window, the conservative choice.
    """
    most = max(instances.values(), default=Decimal(1))
    counts = {p.timestamp: instances.get(p.timestamp, most) for p in peaks}
    return [Datapoint(p.timestamp, p.value * counts[p.timestamp]) for p in peaks], counts


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

        Eight series a variant in one GetMetricData request (more only past 500 series or
        100,800 datapoints): invocations in 60 s buckets, utilisation in UTILIZATION_PERIOD
        ones, or the coarser period CloudWatch keeps for an older start. A metric without data
        has samples 0 and peak None. A window over MAX_LOOKBACK reads MAX_LOOKBACK.
        """
        window = min(window, MAX_LOOKBACK)
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
        found: dict[str, VariantMetrics] = {}
        for variant in variants:

            def points(name: str, variant: str = variant) -> list[Datapoint]:
                return series[queries[(variant, name)]]

            invocations_period = queries[(variant, "invocations")].period
            instances = instances_reporting(points("cpu_samples"), period)
            cpu_total, counts = whole_variant(points("cpu"), instances)
            gpu_total, _ = whole_variant(points("gpu"), instances)
            cpu_peak = max(cpu_total, key=lambda p: p.value, default=None)
            rates = per_minute(points("invocations"), invocations_period)
            summaries = {
                name: SeriesSummary.of(points(name)) for name in _VARIANT_SERIES if name != "cpu_samples"
            }
            found[variant] = VariantMetrics(
                period=period,
                invocations_per_instance=SeriesSummary.of(per_instance(rates, instances, period)),
                invocations_period=invocations_period,
                invocations_per_minute=SeriesSummary.of(rates),
                cpu_total=SeriesSummary.of(cpu_total),
                gpu_total=SeriesSummary.of(gpu_total),
                instances_at_peak=None if cpu_peak is None else counts[cpu_peak.timestamp],
                **summaries,
            )
        return found

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
