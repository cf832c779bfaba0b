"""Rightsizing maths as tables: observed peaks + targets + candidates + prices -> what a user reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mlcost.api.v1alpha1.endpointrightsizing import (
    Candidates,
    RecommendationSource,
    UtilizationTargets,
)
from mlcost.catalogue import load_default_catalogue
from mlcost.domain.catalogue import InstanceSpec, Price, PriceCatalogue, Usage
from mlcost.domain.rightsizing import (
    InferenceRecommenderResult,
    ObservedVariant,
    VariantResult,
    VariantStatus,
    recommend_endpoint,
    recommend_variant,
)

REGION = "us-east-1"
END = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
CW, IR = RecommendationSource.CLOUDWATCH, RecommendationSource.INFERENCE_RECOMMENDER
RECOMMENDED, KEEP = VariantStatus.RECOMMENDED, VariantStatus.KEEP_CURRENT
INSUFFICIENT, SKIPPED = VariantStatus.INSUFFICIENT_DATA, VariantStatus.SKIPPED

# The shipped catalogue: us-east-1 hosting prices for ml.c5.xlarge (0.204), ml.c5.2xlarge (0.408),
# ml.m5.xlarge (0.23), ml.g4dn.xlarge (0.7364), ml.g5.xlarge (1.4084), ml.g5.2xlarge (1.515), ...
# and no specs for ml.c5.4xlarge (price only). Tests that need an unpriced type use UNPRICED below.
SHIPPED = load_default_catalogue()


def _test_price(instance_type: str, hourly: str) -> Price:
    return Price(instance_type, Usage.HOSTING, REGION, Decimal(hourly), "TEST", date(2026, 1, 1))


# A type with ml.m5.2xlarge's specs (8 vCPUs, 32 GiB) and no hosting price anywhere: the current
# type whose saving cannot be known (the shipped catalogue may price every real type one day).
UNPRICED = "ml.m9.2xlarge"
WITHOUT_PRICE = SHIPPED.merged(PriceCatalogue(specs=[InstanceSpec(UNPRICED, 8, Decimal(32))]))
# API.md's example: ml.m5.2xlarge at $0.461/h, so x2 = $0.922/h = $673.06/month.
WITH_M5_2XLARGE = SHIPPED.merged(PriceCatalogue(prices=[_test_price("ml.m5.2xlarge", "0.461")]))
# A small, cheap type (test prices) that a model of 9.6 GiB does not fit on, however many there are.
WITH_SMALL = SHIPPED.merged(
    PriceCatalogue(
        specs=[InstanceSpec("ml.c5.large", 2, Decimal(4))], prices=[_test_price("ml.c5.large", "0.05")]
    )
)

C5, M5 = "ml.c5.xlarge", "ml.m5.xlarge"
C5_2XL, M5_2XL = "ml.c5.2xlarge", "ml.m5.2xlarge"
G4DN, G5, G5_2XL = "ml.g4dn.xlarge", "ml.g5.xlarge", "ml.g5.2xlarge"


def observed(instance_type: str | None = C5_2XL, count: int = 2, **fields: Any) -> ObservedVariant:
    """Two healthy weeks of 5-minute datapoints unless a test says otherwise."""
    values: dict[str, Any] = {
        "variant": "AllTraffic",
        "instance_type": instance_type,
        "instance_count": count,
        "samples": 4032,
        "window_end": END,
        "first_datapoint": END - timedelta(days=14),
        "invocations_total": Decimal(250_000),
        "invocations_per_instance_peak": Decimal(410),
    }
    # Tables give peaks as int or str for brevity; ObservedVariant takes Decimal.
    values.update(
        {
            k: Decimal(v) if isinstance(v, str | int) and k.endswith(("_peak", "_us")) else v
            for k, v in fields.items()
        }
    )
    return ObservedVariant(**values)


def candidates(*types: str, **spec: Any) -> Candidates:
    return Candidates.model_validate({"instanceTypes": list(types), **spec})


def targets(**spec: Any) -> UtilizationTargets:
    return UtilizationTargets.model_validate(spec)


def seen(result: VariantResult) -> tuple[Any, ...]:
    """What a user reads: status, current monthly, recommended type x count and monthly, saving, source."""
    rec = result.recommended
    return (
        result.status,
        result.current.monthly if result.current else None,
        f"{rec.instance_type} x{rec.instance_count}" if rec else None,
        rec.monthly if rec else None,
        result.monthly_savings,
        result.source,
    )


def d(text: str) -> Decimal:
    return Decimal(text)


# ---------------------------------------------------------------------------- what is recommended

RECOMMENDATIONS = [
    pytest.param(
        observed(M5_2XL, 2, cpu_peak="89.6", memory_peak=9),
        candidates(C5, C5_2XL, M5),
        targets(),
        WITH_M5_2XLARGE,
        (RECOMMENDED, d("673.06"), "ml.c5.xlarge x1", d("148.92"), d("524.14"), CW),
        id="cpu-bound: m5.2xlarge x2 -> c5.xlarge x1 (API.md example)",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15),
        candidates(C5, C5_2XL, M5),
        targets(),
        SHIPPED,
        (RECOMMENDED, d("595.68"), "ml.c5.xlarge x1", d("148.92"), d("446.76"), CW),
        id="cpu-bound with shipped prices: c5.2xlarge x2 -> c5.xlarge x1",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15),
        candidates(),
        targets(),
        SHIPPED,
        (RECOMMENDED, d("595.68"), "ml.c5.xlarge x1", d("148.92"), d("446.76"), CW),
        id="default candidates: the current type's family",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=20),
        candidates(C5, C5_2XL, M5),
        targets(),
        SHIPPED,
        # c5.xlarge x1 would hold 2 x 3.2 GiB = 80% of 8 GiB; m5.xlarge has 16 GiB.
        (RECOMMENDED, d("595.68"), "ml.m5.xlarge x1", d("167.90"), d("427.78"), CW),
        id="packing onto fewer instances grows memory per instance",
    ),
    pytest.param(
        observed(M5, 1, cpu_peak=40, memory_peak=60),
        candidates(C5, C5_2XL, M5),
        targets(),
        SHIPPED,
        (KEEP, d("167.90"), "ml.m5.xlarge x1", d("167.90"), d("0.00"), CW),
        id="memory-bound: 9.6 GiB stays on 16 GiB",
    ),
    pytest.param(
        observed(M5, 2, cpu_peak=40, memory_peak=60),
        candidates("ml.c5.large", M5),
        targets(),
        WITH_SMALL,
        # Spread over 7 instances 19.2 GiB would "fit" 4 GiB each; each instance holds the model.
        (KEEP, d("335.80"), "ml.m5.xlarge x2", d("335.80"), d("0.00"), CW),
        id="memory does not shrink on more instances",
    ),
    pytest.param(
        observed(G5_2XL, 1, cpu_peak=50, memory_peak=20, gpu_peak=30, gpu_memory_peak=40),
        candidates(C5, M5, G4DN, G5, G5_2XL),
        targets(),
        SHIPPED,
        (RECOMMENDED, d("1105.95"), "ml.g4dn.xlarge x1", d("537.57"), d("568.38"), CW),
        id="GPU model stays on a GPU type",
    ),
    pytest.param(
        observed(G5_2XL, 1, cpu_peak=50, memory_peak=20, gpu_peak=30, gpu_memory_peak=80),
        candidates(G4DN, G5, G5_2XL),
        targets(),
        SHIPPED,
        # 80% of 24 GiB = 19.2 GiB of GPU memory: over 75% of g4dn's 16 GiB, 80% of g5's 24 GiB.
        (KEEP, d("1105.95"), "ml.g5.2xlarge x1", d("1105.95"), d("0.00"), CW),
        id="GPU memory keeps the model on the bigger GPU",
    ),
    pytest.param(
        observed(G5, 1, cpu_peak=50, memory_peak=20, gpu_peak=30),
        candidates(C5, M5),
        targets(),
        SHIPPED,
        (KEEP, d("1028.13"), "ml.g5.xlarge x1", d("1028.13"), d("0.00"), CW),
        id="GPU model never goes to a CPU type",
    ),
    pytest.param(
        observed(G4DN, 1, cpu_peak=40, memory_peak=20),
        candidates(C5, M5, G4DN),
        targets(),
        SHIPPED,
        (RECOMMENDED, d("537.57"), "ml.c5.xlarge x1", d("148.92"), d("388.65"), CW),
        id="no GPU metric: a CPU type may serve it",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15),
        candidates(C5, C5_2XL, minInstances=2),
        targets(),
        SHIPPED,
        (RECOMMENDED, d("595.68"), "ml.c5.xlarge x2", d("297.84"), d("297.84"), CW),
        id="minInstances 2",
    ),
    pytest.param(
        observed(C5_2XL, 4, cpu_peak=300, memory_peak=20),
        candidates(C5, C5_2XL, maxInstances=8),
        targets(),
        SHIPPED,
        # 12 busy vCPUs: c5.xlarge needs 5 (60% of 20), c5.2xlarge 3 (50% of 24).
        (RECOMMENDED, d("1191.36"), "ml.c5.xlarge x5", d("744.60"), d("446.76"), CW),
        id="maxInstances 8 allows five small instances",
    ),
    pytest.param(
        observed(C5_2XL, 4, cpu_peak=300, memory_peak=20),
        candidates(C5, C5_2XL, maxInstances=4),
        targets(),
        SHIPPED,
        (RECOMMENDED, d("1191.36"), "ml.c5.2xlarge x3", d("893.52"), d("297.84"), CW),
        id="maxInstances 4 rules five out",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15),
        candidates(C5, C5_2XL),
        targets(cpuUtilization="20"),
        SHIPPED,
        # 1.8 busy vCPUs at most 20%: c5.xlarge x3 = 15% (0.612/h) vs c5.2xlarge x2 = 11.3% (0.816/h).
        (RECOMMENDED, d("595.68"), "ml.c5.xlarge x3", d("446.76"), d("148.92"), CW),
        id="a lower CPU target needs more headroom",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=600, memory_peak=20),
        candidates(C5, C5_2XL, maxInstances=4),
        targets(),
        SHIPPED,
        (KEEP, d("595.68"), "ml.c5.2xlarge x2", d("595.68"), d("0.00"), CW),
        id="overloaded: what meets the targets costs more, so stay",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=80),
        candidates(C5),
        targets(),
        SHIPPED,
        (KEEP, d("595.68"), "ml.c5.2xlarge x2", d("595.68"), d("0.00"), CW),
        id="no candidate fits: stay as is",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, model_latency_peak_us=400_000),
        candidates(C5, C5_2XL),
        targets(maxModelLatency="250ms"),
        SHIPPED,
        (KEEP, d("595.68"), "ml.c5.2xlarge x2", d("595.68"), d("0.00"), CW),
        id="latency over target: no fewer vCPUs",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, model_latency_peak_us=120_000),
        candidates(C5, C5_2XL),
        targets(maxModelLatency="250ms"),
        SHIPPED,
        (RECOMMENDED, d("595.68"), "ml.c5.xlarge x1", d("148.92"), d("446.76"), CW),
        id="latency within target: downsizing allowed",
    ),
    pytest.param(
        observed(UNPRICED, 2, cpu_peak="89.6", memory_peak=9),
        candidates(C5, M5),
        targets(),
        WITHOUT_PRICE,
        (RECOMMENDED, None, "ml.c5.xlarge x1", d("148.92"), None, CW),
        id="current type without a price: saving unknown",
    ),
    pytest.param(
        observed(UNPRICED, 2, cpu_peak="89.6", memory_peak=80),
        candidates(C5, M5),
        targets(),
        WITHOUT_PRICE,
        # Nothing fits; staying as is saves exactly nothing, price or not.
        (KEEP, None, "ml.m9.2xlarge x2", None, d("0.00"), CW),
        id="current type without a price and nothing fits",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90),
        candidates(C5, C5_2XL, M5),
        targets(),
        SHIPPED,
        # Without MemoryUtilization only types with at least the current 16 GiB qualify.
        (RECOMMENDED, d("595.68"), "ml.m5.xlarge x1", d("167.90"), d("427.78"), CW),
        id="no memory data: at least the current memory",
    ),
    # Autoscaling ran 4 instances at the peak and 1 now: the busiest instance at 160% (1.6 of 8
    # vCPUs) x 4 instances = 6.4 vCPUs to serve. Sized from today's count (1.6 vCPUs) this would be
    # "ml.c5.xlarge x1, saves $148.92/month", too small by 4x.
    pytest.param(
        observed(C5_2XL, 1, cpu_peak=160, cpu_total_peak=640, instances_at_peak=Decimal(4), memory_peak=15),
        candidates(C5, C5_2XL),
        targets(),
        SHIPPED,
        (KEEP, d("297.84"), "ml.c5.2xlarge x1", d("297.84"), d("0.00"), CW),
        id="4 instances at the peak, 1 now: sized for the peak's 4",
    ),
    pytest.param(
        observed(C5_2XL, 4, cpu_peak=160, cpu_total_peak=160, instances_at_peak=Decimal(1), memory_peak=15),
        candidates(C5, C5_2XL),
        targets(),
        SHIPPED,
        # 4 now, but the peak ran on 1 (1.6 vCPUs in all): one c5.xlarge keeps CPU at 40%.
        (RECOMMENDED, d("1191.36"), "ml.c5.xlarge x1", d("148.92"), d("1042.44"), CW),
        id="1 instance at the peak, 4 now: sized for the peak, not 4 x the busiest",
    ),
]


@pytest.mark.parametrize(("seen_", "candidates_", "targets_", "catalogue", "expected"), RECOMMENDATIONS)
def test_recommendation(
    seen_: ObservedVariant,
    candidates_: Candidates,
    targets_: UtilizationTargets,
    catalogue: PriceCatalogue,
    expected: tuple[Any, ...],
) -> None:
    result = recommend_variant(seen_, targets_, candidates_, catalogue, REGION)
    assert seen(result) == expected
    assert result.reason  # every outcome says why


def test_api_example_reason_and_status() -> None:
    result = recommend_variant(
        observed(M5_2XL, 2, cpu_peak="89.6", memory_peak="30.1"),
        targets(),
        candidates(C5, C5_2XL, M5, M5_2XL),
        WITH_M5_2XLARGE,
        REGION,
    )
    # 30.1% of 32 GiB = 9.63 GiB per instance needs 16 GiB at 75%: 2 x m5.xlarge would be
    # 60.2%, and 1 x m5.2xlarge (the packed 19.3 GiB in 32 GiB) 60.2% too, at $0.461/h.
    assert seen(result) == (RECOMMENDED, d("673.06"), "ml.m5.xlarge x2", d("335.80"), d("337.26"), CW)
    assert result.reason == (
        "Peak over 4032 datapoints: CPU 11.2% of 8 vCPUs = 0.9 vCPU per instance, 1.79 vCPUs over "
        "2 instances; memory 30.1% of 32 GiB = 9.63 GiB per instance. ml.m5.xlarge x2 keeps CPU at "
        "22.4% (target 60%) and memory at 60.2% (target 75%). It costs $0.46/h ($335.80/month) "
        "instead of $0.922/h ($673.06/month): $337.26/month less."
    )
    recommendation = result.as_recommendation()
    assert recommendation is not None
    assert recommendation.to_api() == {
        "instanceType": "ml.m5.xlarge",
        "instanceCount": 2,
        "hourlyCost": "0.46",
        "monthlyCost": "335.80",
        "monthlySavings": "337.26",
        "source": "CloudWatch",
        "reason": result.reason,
    }
    assert result.current is not None
    assert result.current.as_cost().to_api() == {
        "instanceType": "ml.m5.2xlarge",
        "instanceCount": 2,
        "hourlyCost": "0.922",
        "monthlyCost": "673.06",
    }
    assert result.utilization.as_status().to_api() == {
        "cpu": "11.2",
        "memory": "30.1",
        "invocationsPerInstance": "410",
        "samples": 4032,
    }


# ---------------------------------------------------------------------------- what the reason says

REASONS = [
    pytest.param(
        observed(M5_2XL, 2, cpu_peak="89.6", memory_peak=9),
        candidates(C5, M5),
        targets(),
        WITH_M5_2XLARGE,
        [
            "CPU 11.2% of 8 vCPUs = 0.9 vCPU per instance, 1.79 vCPUs over 2 instances",
            "memory 9.0% of 32 GiB = 2.88 GiB per instance",
            "ml.c5.xlarge x1 keeps CPU at 44.8% (target 60%) and memory at 72.0% (target 75%)",
            "It costs $0.204/h ($148.92/month) instead of $0.922/h ($673.06/month): $524.14/month less",
        ],
        id="cpu-bound downsizing",
    ),
    pytest.param(
        observed(G5_2XL, 1, cpu_peak=50, memory_peak=20, gpu_peak=30, gpu_memory_peak=40),
        candidates(C5, G4DN),
        targets(),
        SHIPPED,
        [
            "GPU 30.0% of 1 GPU = 0.3 GPU per instance",
            "GPU memory 40.0% of 24 GiB = 9.6 GiB per instance",
            "The model uses a GPU, so only GPU types qualify.",
            "GPU at 30.0% (target 70%) and GPU memory at 60.0% (target 75%)",
        ],
        id="GPU model",
    ),
    pytest.param(
        observed("ml.g4dn.12xlarge", 1, cpu_peak=200, memory_peak=10, gpu_peak=120),
        candidates(G4DN, maxInstances=1),
        targets(),
        SHIPPED,
        # GPUUtilization sums over the 4 GPUs: 120 = 1.2 busy GPUs = 30% of all four.
        [
            "GPU 30.0% of 4 GPUs = 1.2 GPU per instance",
            "ml.g4dn.xlarge x1: memory 120.0% > 75%, GPU 120.0% > 70% and "
            "GPU memory 16 GiB < the current 64 GiB, with no data to size by",
        ],
        id="GPUUtilization is summed over GPUs",
    ),
    pytest.param(
        observed(G4DN, 1, cpu_peak=40, memory_peak=20),
        candidates(C5, G4DN),
        targets(),
        SHIPPED,
        ["There are no GPU metrics, so types without a GPU qualify too."],
        id="no GPU metrics",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, model_latency_peak_us=400_000),
        candidates(C5, C5_2XL),
        targets(maxModelLatency="250ms"),
        SHIPPED,
        [
            "Model latency peaked at 400 ms, over the 250 ms target",
            "no configuration with fewer vCPUs than now is considered",
            "Nothing cheaper keeps at least the current vCPUs",
        ],
        id="latency over target",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, model_latency_peak_us=120_500),
        candidates(C5, C5_2XL),
        targets(maxModelLatency="250ms"),
        SHIPPED,
        ["Model latency peaked at 120.5 ms, within the 250 ms target."],
        id="latency within target (microseconds converted)",
    ),
    pytest.param(
        observed(M5, 1, cpu_peak=40, memory_peak=60),
        candidates(C5, M5),
        targets(),
        SHIPPED,
        ["The current configuration is already the cheapest that meets the targets"],
        id="already the cheapest",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=600, memory_peak=20),
        candidates(C5, C5_2XL, maxInstances=4),
        targets(),
        SHIPPED,
        [
            "CPU 75.0% of 8 vCPUs = 6 vCPU per instance, 12 vCPUs over 2 instances",
            "The current configuration does not keep the targets at the peak",
            "ml.c5.2xlarge x3 at $1.224/h ($893.52/month), $297.84/month more",
        ],
        id="overloaded",
    ),
    pytest.param(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=80),
        candidates(C5, maxInstances=3),
        targets(),
        SHIPPED,
        [
            "No candidate keeps every target at the peak within 1-3 instances",
            "ml.c5.xlarge x3: memory 160.0% > 75%",
            "stay as is",
        ],
        id="no fit names what failed",
    ),
    pytest.param(
        observed(UNPRICED, 2, cpu_peak="89.6", memory_peak=9),
        candidates(C5, M5),
        targets(),
        WITHOUT_PRICE,
        ["the current ml.m9.2xlarge x2 has no hosting price in us-east-1", "the saving is unknown"],
        id="current price unknown",
    ),
]


@pytest.mark.parametrize(("seen_", "candidates_", "targets_", "catalogue", "phrases"), REASONS)
def test_reason_says_why(
    seen_: ObservedVariant,
    candidates_: Candidates,
    targets_: UtilizationTargets,
    catalogue: PriceCatalogue,
    phrases: list[str],
) -> None:
    reason = recommend_variant(seen_, targets_, candidates_, catalogue, REGION).reason
    for phrase in phrases:
        assert phrase in reason


def test_peak_served_by_more_instances_than_now_says_so() -> None:
    result = recommend_variant(
        observed(C5_2XL, 1, cpu_peak=160, cpu_total_peak=640, instances_at_peak=Decimal(4), memory_peak=15),
        targets(),
        candidates(C5, C5_2XL),
        SHIPPED,
        REGION,
    )
    assert result.current_meets_targets is False  # 6.4 of 8 vCPUs = 80% > 60% on one instance
    assert "6.4 vCPUs over 4 instances at the peak (1 now)" in result.reason
    assert result.utilization.instances_at_peak == Decimal(4)


@pytest.mark.parametrize(
    ("seen_", "meets"),
    [
        (observed(C5_2XL, 2, cpu_peak=90, memory_peak=15), True),
        (observed(C5_2XL, 2, cpu_peak=600, memory_peak=15), False),
        (observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, model_latency_peak_us=400_000), False),
    ],
    ids=["within targets", "CPU over target", "latency over target"],
)
def test_current_meets_targets(seen_: ObservedVariant, meets: bool) -> None:
    result = recommend_variant(seen_, targets(maxModelLatency="250ms"), candidates(C5_2XL), SHIPPED, REGION)
    assert result.current_meets_targets is meets


# ---------------------------------------------------------------------------- no recommendation


@pytest.mark.parametrize(
    ("seen_", "kwargs", "status", "phrase"),
    [
        (observed(samples=10, cpu_peak=90), {}, INSUFFICIENT, "Only 10 utilisation datapoints"),
        (observed(samples=10, cpu_peak=90, memory_peak=15), {"min_samples": 5}, RECOMMENDED, "keeps CPU"),
        (
            observed(first_datapoint=END - timedelta(hours=6), cpu_peak=90),
            {},
            INSUFFICIENT,
            "younger than 1d (datapoints from the last 6h only)",
        ),
        (
            observed(first_datapoint=END - timedelta(hours=6), cpu_peak=90, memory_peak=15),
            {"min_age": timedelta(hours=1)},
            RECOMMENDED,
            "keeps CPU",
        ),
        (observed(first_datapoint=None, cpu_peak=90), {}, INSUFFICIENT, "(no datapoint)"),
        (observed(invocations_total=Decimal(0)), {}, INSUFFICIENT, "No traffic and no CPUUtilization data"),
        (observed(), {}, INSUFFICIENT, "no CPUUtilization datapoints in /aws/sagemaker/Endpoints"),
        (
            observed("ml.c7i.xlarge", 1, cpu_peak=90),
            {},
            INSUFFICIENT,
            "no vCPU and memory figures for the current type ml.c7i.xlarge",
        ),
        (
            observed(None, 0, serverless=True),
            {},
            SKIPPED,
            "serverless: it is billed per use, not per instance",
        ),
        (observed(None, 0), {}, SKIPPED, "has no instance type"),
    ],
    ids=[
        "too few samples",
        "min_samples is configurable",
        "younger than a day",
        "min_age is configurable",
        "no datapoint at all",
        "no traffic",
        "traffic but no CPU data",
        "current type without specs",
        "serverless variant skipped",
        "variant without an instance type skipped",
    ],
)
def test_no_recommendation_without_data(
    seen_: ObservedVariant, kwargs: dict[str, Any], status: VariantStatus, phrase: str
) -> None:
    result = recommend_variant(seen_, targets(), candidates(C5, C5_2XL), SHIPPED, REGION, **kwargs)
    assert result.status is status
    assert phrase in result.reason
    if status in (INSUFFICIENT, SKIPPED):
        assert result.recommended is None
        assert result.monthly_savings is None
        assert result.as_recommendation() is None


def test_insufficient_data_still_reports_what_was_seen() -> None:
    result = recommend_variant(
        observed(samples=10, cpu_peak=90, memory_peak=15), targets(), candidates(), SHIPPED, REGION
    )
    assert result.current is not None and result.current.monthly == d("595.68")
    assert (result.utilization.cpu, result.utilization.memory, result.utilization.samples) == (
        d("11.3"),
        d("15.0"),
        10,
    )


# ---------------------------------------------------------------------------- candidates left out


@pytest.mark.parametrize(
    ("seen_", "candidates_", "skipped", "excluded"),
    [
        (
            observed(C5_2XL, 2, cpu_peak=90, memory_peak=15),
            candidates(),
            {
                "ml.c5.4xlarge": "no vCPU and memory figures for ml.c5.4xlarge",
                "ml.c5.9xlarge": "no hosting price for ml.c5.9xlarge in us-east-1",
            },
            {},
        ),
        (
            observed(C5_2XL, 2, cpu_peak=90, memory_peak=15),
            candidates(C5, "ml.c6i.xlarge"),
            {"ml.c6i.xlarge": "ml.c6i.xlarge is not in the price catalogue"},
            {},
        ),
        (
            observed(G5, 1, cpu_peak=50, memory_peak=20, gpu_memory_peak=40),
            candidates(C5, G4DN),
            {},
            {C5: "it has no GPU, and the model uses one"},
        ),
        (
            observed(C5_2XL, 2, cpu_peak=90, memory_peak=15),
            candidates(C5, "ml.inf2.xlarge"),
            {},
            {"ml.inf2.xlarge": "it needs a model compiled for its accelerator"},
        ),
        (
            observed("ml.inf2.xlarge", 1, cpu_peak=40, memory_peak=20),
            candidates(C5, "ml.inf2.8xlarge", "ml.inf2.24xlarge"),
            {},
            {
                C5: "the model runs on AWS Inferentia2 x1",
                "ml.inf2.24xlarge": "only types with the same accelerator can serve it",
            },
        ),
    ],
    ids=[
        "default family: types without specs or price",
        "unknown type",
        "CPU type for a GPU model",
        "accelerator type for a CPU model",
        "Inferentia model stays on the same accelerator",
    ],
)
def test_candidates_left_out(
    seen_: ObservedVariant,
    candidates_: Candidates,
    skipped: dict[str, str],
    excluded: dict[str, str],
) -> None:
    result = recommend_variant(seen_, targets(), candidates_, SHIPPED, REGION)
    assert {s.instance_type for s in result.skipped_candidates} == set(skipped)
    assert {s.instance_type for s in result.excluded_candidates} == set(excluded)
    for found in (*result.skipped_candidates, *result.excluded_candidates):
        assert (skipped | excluded)[found.instance_type] in found.reason
    for name in skipped:
        assert name in result.reason  # the reason names what the catalogue could not size


# ---------------------------------------------------------------------------- Inference Recommender


def ir(
    instance_type: str, cost: str | None, latency_ms: int, max_invocations: int, count: int = 1
) -> InferenceRecommenderResult:
    return InferenceRecommenderResult(
        instance_type, count, None if cost is None else Decimal(cost), Decimal(latency_ms), max_invocations
    )


@pytest.mark.parametrize(
    ("seen_", "candidates_", "targets_", "results", "expected"),
    [
        pytest.param(
            observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, invocations_per_instance_peak=125),
            candidates(),
            targets(),
            [ir("ml.m5.large", "0.115", 45, 500)],
            # Peak 2 x 125 = 250/min; 60% of 500 = 300/min on one m5.large, priced by CostPerHour.
            (RECOMMENDED, d("595.68"), "ml.m5.large x1", d("83.95"), d("511.73"), IR),
            id="cheaper measured type wins",
        ),
        pytest.param(
            observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, invocations_per_instance_peak=200),
            candidates(),
            targets(),
            [ir("ml.m5.large", "0.115", 45, 500)],
            # 400/min needs two m5.large (0.23/h): one c5.xlarge from CloudWatch is cheaper.
            (RECOMMENDED, d("595.68"), "ml.c5.xlarge x1", d("148.92"), d("446.76"), CW),
            id="CloudWatch sizing still competes",
        ),
        pytest.param(
            observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, invocations_per_instance_peak=125),
            candidates(),
            targets(maxModelLatency="40ms"),
            [ir("ml.m5.large", "0.115", 45, 500)],
            (RECOMMENDED, d("595.68"), "ml.c5.xlarge x1", d("148.92"), d("446.76"), CW),
            id="over the latency target: not used",
        ),
        pytest.param(
            observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, invocations_per_instance_peak=125),
            candidates(C5, C5_2XL),
            targets(),
            [ir("ml.m5.large", "0.115", 45, 500)],
            (RECOMMENDED, d("595.68"), "ml.c5.xlarge x1", d("148.92"), d("446.76"), CW),
            id="not among explicit candidates: not used",
        ),
        pytest.param(
            observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, invocations_per_instance_peak=125),
            candidates(C5, C5_2XL),
            targets(),
            [ir(C5, "0.25", 30, 1200)],
            # Same type and count as the CloudWatch estimate: the measured result wins the tie, and
            # the catalogue's price (0.204) is used rather than CostPerHour.
            (RECOMMENDED, d("595.68"), "ml.c5.xlarge x1", d("148.92"), d("446.76"), IR),
            id="confirms the CloudWatch choice",
        ),
        pytest.param(
            observed(C5_2XL, 2, invocations_per_instance_peak=300),
            candidates(),
            targets(),
            [ir("ml.m5.large", "0.115", 45, 500, count=2)],
            # No CPU data: only the measured result sizes it. 600/min needs 2 x 300/min. CostPerHour
            # is per instance (RecommendationMetrics): 2 x 0.115, never 0.115 / 2.
            (RECOMMENDED, d("595.68"), "ml.m5.large x2", d("167.90"), d("427.78"), IR),
            id="sizes a variant without CPU data",
        ),
        pytest.param(
            observed(C5_2XL, 1, invocations_per_instance_peak=100, invocations_peak_per_minute=Decimal(400)),
            candidates(),
            targets(),
            [ir("ml.m5.large", "0.115", 45, 500)],
            # 1 instance now, but the variant served 400/min at its peak (4 instances then): two
            # m5.large at 60% of 500/min, not one sized from 100/min x today's count.
            (RECOMMENDED, d("297.84"), "ml.m5.large x2", d("167.90"), d("129.94"), IR),
            id="peak requests of the whole variant, not per instance x today's count",
        ),
        pytest.param(
            observed(G5, 1, cpu_peak=50, memory_peak=20, gpu_peak=30, invocations_per_instance_peak=100),
            candidates(),
            targets(),
            [ir(C5, "0.204", 30, 1200)],
            (KEEP, d("1028.13"), "ml.g5.xlarge x1", d("1028.13"), d("0.00"), CW),
            id="GPU model: a CPU result is not used",
        ),
    ],
)
def test_inference_recommender(
    seen_: ObservedVariant,
    candidates_: Candidates,
    targets_: UtilizationTargets,
    results: list[InferenceRecommenderResult],
    expected: tuple[Any, ...],
) -> None:
    result = recommend_variant(seen_, targets_, candidates_, SHIPPED, REGION, inference_recommender=results)
    assert seen(result) == expected


def test_inference_recommender_reason() -> None:
    result = recommend_variant(
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15, invocations_per_instance_peak=125),
        targets(maxModelLatency="40ms"),
        candidates(),
        SHIPPED,
        REGION,
        inference_recommender=[ir("ml.m5.large", "0.115", 45, 500), ir("ml.c5.large", "0.09", 20, 400)],
    )
    # 250/min at peak; 60% of 400 = 240/min per c5.large, so two, at 2 x 0.09 = $0.18/h.
    assert seen(result)[2:] == ("ml.c5.large x2", d("131.40"), d("464.28"), IR)
    assert (
        "Inference Recommender measured ml.c5.large at 400 invocations/min per instance with 20 ms model "
        "latency; x2 at 60% of that (the CPU target's headroom) serves 480/min, at least the peak 250/min"
    ) in result.reason
    assert "It costs $0.18/h ($131.40/month) instead of $0.816/h ($595.68/month)" in result.reason
    assert result.recommended is not None
    assert "from Inference Recommender's CostPerHour" in result.recommended.price_note
    assert [(e.instance_type, e.reason) for e in result.excluded_candidates] == [
        ("ml.m5.large", "Inference Recommender result: model latency 45 ms is over the 40 ms target")
    ]


# ---------------------------------------------------------------------------- whole endpoints


def test_multi_variant_endpoint() -> None:
    variants = [
        observed(C5_2XL, 2, cpu_peak=90, memory_peak=15),
        observed(None, 0, variant="Serverless", serverless=True),
        observed(M5_2XL, 1, variant="Canary", samples=10, cpu_peak=90, memory_peak=15),
        observed(M5, 1, variant="Shadow", cpu_peak=40, memory_peak=60, invocations_per_instance_peak=100),
    ]
    result = recommend_endpoint(
        variants,
        targets(),
        candidates(C5, M5),
        WITH_M5_2XLARGE,
        REGION,
        # Results for the Shadow variant's model only: they must not size AllTraffic.
        inference_recommender={"Shadow": [ir("ml.m5.large", "0.115", 45, 500)]},
    )
    assert [seen(v) for v in result.variants] == [
        (RECOMMENDED, d("595.68"), "ml.c5.xlarge x1", d("148.92"), d("446.76"), CW),
        (SKIPPED, None, None, None, None, None),
        (INSUFFICIENT, d("336.53"), None, None, None, None),
        (KEEP, d("167.90"), "ml.m5.xlarge x1", d("167.90"), d("0.00"), CW),
    ]
    # The Shadow variant's results name a type outside the explicit candidates.
    assert [e.instance_type for e in result.variants[3].excluded_candidates] == ["ml.m5.large"]
    assert [e.instance_type for e in result.variants[0].excluded_candidates] == []
    # Totals over the variants billed per instance; Canary and Shadow stay as they are.
    assert result.current_monthly == d("1100.11")  # 595.68 + 336.53 + 167.90
    assert result.recommended_monthly == d("653.35")  # 148.92 + 336.53 + 167.90
    assert result.monthly_savings == d("446.76")
    assert result.summary() == (
        "AllTraffic: ml.c5.xlarge x1 (saves $446.76/month); Serverless: Skipped; "
        "Canary: InsufficientData; Shadow: KeepCurrent; total $446.76/month"
    )


def test_endpoint_totals_unknown_when_a_price_is() -> None:
    result = recommend_endpoint(
        [
            observed(C5_2XL, 2, cpu_peak=90, memory_peak=15),
            observed(UNPRICED, 2, variant="B", cpu_peak=90, memory_peak=9),
        ],
        targets(),
        candidates(C5, M5),
        WITHOUT_PRICE,
        REGION,
    )
    assert result.current_monthly is None
    assert result.recommended_monthly == d("297.84")  # both recommendations have prices
    assert result.monthly_savings is None  # B's saving is unknown: never counted as 0
    assert "B: ml.c5.xlarge x1 (saving unknown)" in result.summary()


def test_observed_variant_rejects_negative_figures() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        observed(cpu_peak=-1)
