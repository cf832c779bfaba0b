"""MetricsReader against the embedded AWS: invocation sums per endpoint variant, in few calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from mlcost.aws.cloudwatch import MetricsReader, allowed_period, period_for
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain.errors import AccessDenied
from mlcost.embedded.server import EmbeddedAws

from .conftest import ClientFactory

DAY = timedelta(days=1)


@pytest.fixture
def sessions(embedded_aws: EmbeddedAws) -> AwsSessions:
    return AwsSessions(
        default_region=embedded_aws.region,
        endpoint_url=embedded_aws.endpoint_url,
        max_attempts=1,
        base_session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
    )


@pytest.fixture
def target(sessions: AwsSessions) -> AwsTarget:
    return sessions.target(None, None)


@pytest.fixture
def metrics(sessions: AwsSessions) -> MetricsReader:
    return MetricsReader(sessions)


@pytest.fixture
def cloudwatch(aws_client: ClientFactory) -> Any:
    return aws_client("cloudwatch")


def _invocations(cw: Any, endpoint: str, variant: str, points: list[tuple[datetime, float]]) -> None:
    cw.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
                "Timestamp": at,
                "Value": value,
                "Unit": "None",
            }
            for at, value in points
        ],
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_invocations_are_summed_over_the_window_per_variant(
    metrics: MetricsReader, target: AwsTarget, cloudwatch: Any, embedded_aws: EmbeddedAws
) -> None:
    now = _now()
    _invocations(
        cloudwatch, "scorer", "AllTraffic", [(now - timedelta(hours=h), 10.0 * h) for h in (1, 5, 23)]
    )
    _invocations(cloudwatch, "scorer", "AllTraffic", [(now - timedelta(days=3), 1000.0)])  # before the window
    _invocations(cloudwatch, "scorer", "Canary", [(now - timedelta(hours=2), 3.0)])
    embedded_aws.reset_calls()

    sums = metrics.endpoint_invocations(
        target, [("scorer", "AllTraffic"), ("scorer", "Canary"), ("idle", "AllTraffic")], DAY, now
    )

    assert sums == {
        ("scorer", "AllTraffic"): Decimal(290),
        ("scorer", "Canary"): Decimal(3),
        ("idle", "AllTraffic"): Decimal(0),  # no datapoints at all: idle, not unknown
    }
    assert embedded_aws.calls()[("cloudwatch", "GetMetricData")] == 1


def test_a_month_long_window_reaches_data_older_than_15_days(
    metrics: MetricsReader, target: AwsTarget, cloudwatch: Any
) -> None:
    now = _now()
    _invocations(cloudwatch, "monthly", "AllTraffic", [(now - timedelta(days=20), 4.0), (now - DAY, 5.0)])

    sums = metrics.endpoint_invocations(target, [("monthly", "AllTraffic")], timedelta(days=30), now)

    assert sums == {("monthly", "AllTraffic"): Decimal(9)}


def test_more_than_500_variants_are_read_in_batches_of_500(
    metrics: MetricsReader, target: AwsTarget, cloudwatch: Any, embedded_aws: EmbeddedAws
) -> None:
    now = _now()
    variants = [(f"endpoint-{i:04d}", "AllTraffic") for i in range(1001)]
    for index in (0, 499, 500, 1000):
        _invocations(
            cloudwatch, variants[index][0], "AllTraffic", [(now - timedelta(hours=1), float(index + 1))]
        )
    embedded_aws.reset_calls()

    sums = metrics.endpoint_invocations(target, variants, timedelta(hours=6), now)

    assert embedded_aws.calls()[("cloudwatch", "GetMetricData")] == 3
    assert len(sums) == 1001
    assert {key: value for key, value in sums.items() if value} == {
        variants[0]: Decimal(1),
        variants[499]: Decimal(500),
        variants[500]: Decimal(501),
        variants[1000]: Decimal(1001),
    }


def test_no_variants_need_no_call(
    metrics: MetricsReader, target: AwsTarget, embedded_aws: EmbeddedAws
) -> None:
    assert metrics.endpoint_invocations(target, [], DAY, _now()) == {}
    assert embedded_aws.calls()[("cloudwatch", "GetMetricData")] == 0


def test_access_denied_becomes_a_domain_error(
    metrics: MetricsReader, target: AwsTarget, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.inject_error("cloudwatch", "GetMetricData", "AccessDenied")

    with pytest.raises(AccessDenied, match="cloudwatch:GetMetricData"):
        metrics.endpoint_invocations(target, [("scorer", "AllTraffic")], DAY, _now())


@pytest.mark.parametrize(
    ("window", "period"),
    [
        (timedelta(seconds=1), 60),
        (timedelta(seconds=90), 120),
        (timedelta(hours=1), 3600),
        (timedelta(days=7), 7 * 86400),
        (timedelta(days=15), 15 * 86400),
        # Data older than 15 days only exists in 5-minute buckets, older than 63 days hourly.
        (timedelta(days=15, seconds=1), 15 * 86400 + 300),
        (timedelta(days=30, minutes=7), 30 * 86400 + 600),
        (timedelta(days=63, seconds=1), 63 * 86400 + 3600),
        (timedelta(days=90, minutes=1), 90 * 86400 + 3600),
    ],
)
def test_the_period_is_the_window_in_steps_cloudwatch_accepts(window: timedelta, period: int) -> None:
    assert period_for(window) == period
    assert period % allowed_period(1, start_age=window) == 0


# ---------------------------------------------------------------------------- endpoint utilisation

SCALED = "scaled-scorer"


def _stats(cw: Any, namespace: str, metric: str, at: datetime, count: float, maximum: float) -> None:
    """One aggregated datapoint, as CloudWatch holds a 5-minute bucket: count samples, each <= maximum."""
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "EndpointName", "Value": SCALED},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": at,
                "StatisticValues": {
                    "SampleCount": count,
                    "Sum": count * maximum,
                    "Minimum": 0.0,
                    "Maximum": maximum,
                },
            }
        ],
    )


@pytest.mark.parametrize(
    ("lookback", "period", "invocations_period"),
    [(timedelta(days=14), 300, 60), (timedelta(days=30), 300, 300), (timedelta(days=90), 3600, 3600)],
)
def test_peak_load_is_measured_with_the_instances_serving_it_and_per_minute(
    metrics: MetricsReader,
    target: AwsTarget,
    cloudwatch: Any,
    lookback: timedelta,
    period: int,
    invocations_period: int,
) -> None:
    """4 instances at the peak, 1 now; and per-minute figures stay per minute at any resolution."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    peak, quiet = now - timedelta(hours=5, seconds=150), now - timedelta(hours=1, seconds=150)
    minutes = Decimal(period) / 60
    # CPUUtilization: one sample per instance per minute, so 4 instances give 4 x minutes samples.
    _stats(cloudwatch, "/aws/sagemaker/Endpoints", "CPUUtilization", peak, float(4 * minutes), 160.0)
    _stats(cloudwatch, "/aws/sagemaker/Endpoints", "CPUUtilization", quiet, float(minutes), 190.0)
    # 1200 requests a minute at the peak (300 per instance), as one Sum over the bucket.
    inv_minutes = Decimal(invocations_period) / 60
    _stats(cloudwatch, "AWS/SageMaker", "Invocations", peak, 1.0, float(1200 * inv_minutes))

    found = metrics.endpoint_utilization(target, SCALED, ["AllTraffic"], lookback, now)["AllTraffic"]

    assert (found.period, found.invocations_period) == (period, invocations_period)
    assert found.cpu.peak == Decimal(190)  # the busiest single instance, in the quiet hour
    # The whole variant: 160% x 4 instances at the peak beats 190% x 1 instance.
    assert (found.cpu_total.peak, found.instances_at_peak) == (Decimal(640), Decimal(4))
    assert found.invocations_per_minute.peak == Decimal(1200)
    assert found.invocations_per_instance.peak == Decimal(300)  # 1200 over the 4 instances then
