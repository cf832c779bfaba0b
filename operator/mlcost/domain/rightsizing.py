"""Rightsizing maths: the cheapest endpoint configuration that keeps every target at the window's peak.

What the CloudWatch figures mean (Amazon SageMaker AI Developer Guide, "Amazon SageMaker AI metrics
in Amazon CloudWatch", https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html,
endpoint instance metrics and endpoint invocation metrics):

- ``/aws/sagemaker/Endpoints`` ``CPUUtilization`` is reported per instance as the SUM of every CPU
  core's utilisation, each 0-100: an instance with 4 vCPUs reports 0-400%. For an endpoint variant
  it covers the primary and any supplementary containers. So one instance's busy vCPUs are
  ``CPUUtilization / 100``, and the share of its vCPUs is ``CPUUtilization / vCPUs``.
- ``GPUUtilization`` and ``GPUMemoryUtilization`` are per instance too, 0-100 multiplied by the
  number of GPUs (0-400% with 4 GPUs). Busy GPUs are ``GPUUtilization / 100``; GPU memory in use is
  ``GPUMemoryUtilization / (100 x GPUs)`` of the instance's GPU memory (the catalogue's
  ``gpu_memory_gib`` is the total over its GPUs).
- ``MemoryUtilization`` is per instance, 0-100% of the instance's memory.
- ``AWS/SageMaker`` ``ModelLatency`` is in microseconds. ``InvocationsPerInstance`` adds
  1/numberOfInstances per request (API reference, ScalingPolicyMetric), so its Sum over a minute is
  the requests each instance served that minute; ``Invocations`` (Sum) counts requests.
- Every instance of a variant publishes to the same variant-level series (dimensions EndpointName,
  VariantName), once a minute, so a period's Maximum is the busiest instance's peak and its SampleCount
  over its minutes the number of instances reporting then. The variant's load in a period is that
  Maximum times those instances (as if every instance were as busy as the busiest: conservative when
  they are uneven), and the peak to size for is the highest such total over the window. Today's
  instance count says nothing about the peak: autoscaling may have run 4 instances then and 1 now.
- Sums (Invocations, InvocationsPerInstance) are per period: past 15 days of look-back CloudWatch only
  has 5-minute (then hourly) data, so per-minute figures are a period's Sum divided by its minutes.
- Inference Recommender (API reference, RecommendationMetrics; developer guide, "Recommendation
  results", .../sagemaker/latest/dg/inference-recommender-interpret-results.html) gives
  ``ModelLatency`` in milliseconds, ``MaxInvocations`` as requests per minute for the instance, and
  ``CostPerHour`` in USD per hour for the instance.

The rules chosen here (each also stated in the reason a user reads):

- CPU and GPU load follow traffic, so the variant's total is spread evenly over the new instances.
  Memory (host and GPU) is mostly the model each instance loads, so it does not shrink on more
  instances; packing the same traffic onto fewer instances may grow it, so the per-instance figure
  is scaled up by current/new count when the count falls.
- A model with GPU metrics stays on GPU types; without GPU metrics any type may serve it. A model on
  a non-NVIDIA accelerator (Inferentia, Trainium) stays on types with the same accelerator, and no
  other model moves to one: such models must be compiled for the chip, and its load is not measured.
- When maxModelLatency is set and the observed peak is over it, no configuration with fewer vCPUs
  per instance or in total than now is considered: utilisation alone cannot show what latency a
  smaller instance would give. Inference Recommender results carry their own measured latency and
  are held to the target instead.
- An Inference Recommender result serves the peak when MaxInvocations x count, kept to the CPU
  target's share (60% by default), reaches the variant's peak requests per minute (Invocations).
  Its price is the catalogue's hosting price when there is one (so the saving compares prices from
  one source), else CostPerHour, which the API reference (RecommendationMetrics) defines as "the
  cost per hour for the instance": a price per instance. It is measured, so memory is not re-checked.
- The cheapest (hourly price x count) wins; ties go to fewer instances, then the smaller size, then
  an Inference Recommender result over a CloudWatch estimate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from mlcost.api.types import format_duration
from mlcost.api.v1alpha1.endpointrightsizing import (
    Candidates,
    EndpointCost,
    Recommendation,
    RecommendationSource,
    Utilization,
    UtilizationTargets,
)
from mlcost.domain.catalogue import HOURS_PER_MONTH, InstanceSpec, PriceCatalogue, Usage, size_order

__all__ = [
    "MIN_AGE",
    "MIN_SAMPLES",
    "EndpointResult",
    "InferenceRecommenderResult",
    "ObservedVariant",
    "SkippedCandidate",
    "UtilizationFigures",
    "VariantConfiguration",
    "VariantResult",
    "VariantStatus",
    "recommend_endpoint",
    "recommend_variant",
]

# 24 datapoints: a day of hourly periods, two hours of 5-minute ones. Together with MIN_AGE this
# keeps one busy hour of a young endpoint from standing for its whole week.
MIN_SAMPLES = 24
MIN_AGE = timedelta(days=1)

_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")
_IR = RecommendationSource.INFERENCE_RECOMMENDER
_CW = RecommendationSource.CLOUDWATCH


class VariantStatus(StrEnum):
    RECOMMENDED = "Recommended"  # a cheaper configuration keeps every target
    KEEP_CURRENT = "KeepCurrent"  # nothing cheaper keeps every target
    INSUFFICIENT_DATA = "InsufficientData"  # too little data to size without guessing
    SKIPPED = "Skipped"  # no instance type to size (serverless: billed per use)


@dataclass(frozen=True)
class ObservedVariant:
    """What CloudWatch showed for one production variant over the look-back window.

    Peaks are the window's Maximum in CloudWatch's own units (see the module docstring); None means
    the metric had no datapoints, never 0.
    """

    variant: str
    instance_type: str | None  # None for a serverless variant
    instance_count: int
    samples: int  # datapoints read of the sizing metric (CPUUtilization)
    window_end: datetime  # the end of the look-back window: "now" for the age check
    first_datapoint: datetime | None  # the earliest datapoint in the window; None when there is none
    serverless: bool = False
    cpu_peak: Decimal | None = None  # CPUUtilization: sum over vCPUs, 0..100 x vCPUs per instance
    memory_peak: Decimal | None = None  # MemoryUtilization: 0..100 per instance
    gpu_peak: Decimal | None = None  # GPUUtilization: 0..100 x GPUs per instance
    gpu_memory_peak: Decimal | None = None  # GPUMemoryUtilization: 0..100 x GPUs per instance
    model_latency_peak_us: Decimal | None = None  # ModelLatency, microseconds
    # The highest per-minute Sum of InvocationsPerInstance (a longer period's Sum divided by its
    # minutes): requests one instance served in its busiest minute.
    invocations_per_instance_peak: Decimal | None = None
    invocations_total: Decimal = Decimal(0)  # Sum of Invocations over the window
    # The whole variant at its busiest, with the instances that served it then (not today's
    # count). None: not measured, and then the current count stands in (a fixed-size variant).
    invocations_peak_per_minute: Decimal | None = None  # Invocations: the busiest minute's requests
    cpu_total_peak: Decimal | None = None  # the highest per-period Maximum x instances reporting
    gpu_total_peak: Decimal | None = None  # the same for GPUUtilization
    instances_at_peak: Decimal | None = None  # instances reporting in cpu_total_peak's period
    period_seconds: int | None = None  # CloudWatch period of the utilisation datapoints
    invocations_period_seconds: int | None = None  # ... of the invocation datapoints

    def __post_init__(self) -> None:
        if self.instance_count < 0 or self.samples < 0:
            raise ValueError(f"{self.variant}: instance count and samples cannot be negative")
        peaks = (self.cpu_peak, self.memory_peak, self.gpu_peak, self.gpu_memory_peak)
        if any(p is not None and p < 0 for p in peaks):
            raise ValueError(f"{self.variant}: a utilisation peak cannot be negative")

    @property
    def model_latency_peak_ms(self) -> Decimal | None:
        return None if self.model_latency_peak_us is None else self.model_latency_peak_us / 1000

    @property
    def has_gpu_metrics(self) -> bool:
        return self.gpu_peak is not None or self.gpu_memory_peak is not None

    @property
    def peak_instances(self) -> Decimal:
        """The instances that served the peak: measured, else the current count."""
        if self.instances_at_peak is not None and self.instances_at_peak > 0:
            return self.instances_at_peak
        return Decimal(max(self.instance_count, 1))

    @property
    def peak_requests_per_minute(self) -> Decimal | None:
        """The variant's busiest minute: Invocations, else per instance x the peak's instances."""
        if self.invocations_peak_per_minute is not None:
            return self.invocations_peak_per_minute
        per_instance = self.invocations_per_instance_peak
        return None if per_instance is None else per_instance * self.peak_instances


@dataclass(frozen=True)
class InferenceRecommenderResult:
    """One recommendation of a completed Inference Recommender job for the variant's model."""

    instance_type: str
    instance_count: int  # InitialInstanceCount of the recommended configuration
    cost_per_hour: Decimal | None  # CostPerHour for that configuration, USD; None when not given
    model_latency_ms: Decimal  # ModelLatency at MaxInvocations
    max_invocations: int  # MaxInvocations: requests per minute one instance sustains


@dataclass(frozen=True)
class VariantConfiguration:
    """An instance type and count with what it costs; hourly None means the price is unknown."""

    instance_type: str
    instance_count: int
    hourly: Decimal | None  # USD per hour for all instances, exact
    price_note: str = ""  # where the price comes from, e.g. Price.describe()

    @property
    def monthly(self) -> Decimal | None:
        """USD per month of HOURS_PER_MONTH, to the cent."""
        return None if self.hourly is None else _money(self.hourly * HOURS_PER_MONTH)

    def describe(self) -> str:
        """'ml.c5.xlarge x1 at $0.204/h ($148.92/month)' or '... (price unknown)'."""
        head = f"{self.instance_type} x{self.instance_count}"
        if self.hourly is None:
            return f"{head} (price unknown)"
        return f"{head} at ${self.hourly:f}/h (${self.monthly:f}/month)"

    def as_cost(self) -> EndpointCost:
        return EndpointCost(
            instance_type=self.instance_type,
            instance_count=self.instance_count,
            hourly_cost=self.hourly,
            monthly_cost=self.monthly,
        )


@dataclass(frozen=True)
class UtilizationFigures:
    """The window's peaks as a user reads them: percent of all vCPUs / memory / all GPUs."""

    cpu: Decimal | None = None
    memory: Decimal | None = None
    gpu: Decimal | None = None
    gpu_memory: Decimal | None = None
    invocations_per_instance: Decimal | None = None  # per minute
    model_latency_ms: Decimal | None = None
    samples: int = 0
    instances_at_peak: Decimal | None = None
    period_seconds: int | None = None
    invocations_period_seconds: int | None = None

    def as_status(self) -> Utilization:
        return Utilization(
            cpu=self.cpu,
            memory=self.memory,
            gpu=self.gpu,
            invocations_per_instance=self.invocations_per_instance,
            samples=self.samples,
            instances_at_peak=self.instances_at_peak,
            period_seconds=self.period_seconds,
            invocations_period_seconds=self.invocations_period_seconds,
        )


@dataclass(frozen=True)
class SkippedCandidate:
    """A candidate instance type that was not sized, and why."""

    instance_type: str
    reason: str


@dataclass(frozen=True)
class VariantResult:
    """The recommendation for one production variant.

    skipped_candidates are gaps in the price catalogue (unknown type, no price, incomplete specs) a
    user can fix with an override; excluded_candidates were ruled out by a rule (GPU, accelerator,
    latency, not among the candidates).
    """

    variant: str
    status: VariantStatus
    reason: str
    current: VariantConfiguration | None = None  # None only for serverless variants
    recommended: VariantConfiguration | None = None  # the current one again for KeepCurrent
    monthly_savings: Decimal | None = None  # None: a change whose saving is unknown (no current price)
    source: RecommendationSource | None = None
    utilization: UtilizationFigures = field(default_factory=UtilizationFigures)
    skipped_candidates: tuple[SkippedCandidate, ...] = ()
    excluded_candidates: tuple[SkippedCandidate, ...] = ()
    current_meets_targets: bool | None = None  # None: could not be judged

    def as_recommendation(self) -> Recommendation | None:
        """status.recommendation; None when there is none (InsufficientData, Skipped)."""
        if self.recommended is None:
            return None
        return Recommendation(
            instance_type=self.recommended.instance_type,
            instance_count=self.recommended.instance_count,
            hourly_cost=self.recommended.hourly,
            monthly_cost=self.recommended.monthly,
            monthly_savings=self.monthly_savings,
            source=self.source,
            reason=self.reason,
        )


@dataclass(frozen=True)
class EndpointResult:
    """One result per variant and the endpoint's totals over the variants billed per instance."""

    variants: tuple[VariantResult, ...]

    @property
    def _sized(self) -> list[VariantResult]:
        return [v for v in self.variants if v.status is not VariantStatus.SKIPPED]

    @property
    def current_monthly(self) -> Decimal | None:
        """What the instance variants cost now; None when any of their prices is unknown."""
        return _sum([v.current.monthly if v.current else None for v in self._sized])

    @property
    def recommended_monthly(self) -> Decimal | None:
        """What they would cost with every recommendation (unchanged where there is none)."""
        return _sum([(v.recommended or v.current).monthly if v.current else None for v in self._sized])

    @property
    def monthly_savings(self) -> Decimal | None:
        """The sum of the variants' savings; None when any recommended variant's saving is unknown."""
        savings = [v.monthly_savings for v in self._sized if v.recommended is not None]
        return _sum(savings)

    def summary(self) -> str:
        """One line for a condition or Event: each variant's outcome and the total saving."""
        parts = []
        for v in self.variants:
            if v.status is VariantStatus.RECOMMENDED and v.recommended is not None:
                saving = (
                    "saving unknown" if v.monthly_savings is None else f"saves ${v.monthly_savings:f}/month"
                )
                parts.append(
                    f"{v.variant}: {v.recommended.instance_type} x{v.recommended.instance_count} ({saving})"
                )
            else:
                parts.append(f"{v.variant}: {v.status.value}")
        total = self.monthly_savings
        tail = "total saving unknown" if total is None else f"total ${total:f}/month"
        return "; ".join(parts) + f"; {tail}"


# ---------------------------------------------------------------------------- entry points


def recommend_variant(
    observed: ObservedVariant,
    targets: UtilizationTargets,
    candidates: Candidates,
    catalogue: PriceCatalogue,
    region: str,
    *,
    inference_recommender: Sequence[InferenceRecommenderResult] = (),
    min_samples: int = MIN_SAMPLES,
    min_age: timedelta = MIN_AGE,
) -> VariantResult:
    """The cheapest (type, count) among the candidates that keeps every target at the peak."""
    if observed.serverless:
        return VariantResult(
            observed.variant,
            VariantStatus.SKIPPED,
            f"Variant {observed.variant} is serverless: it is billed per use, not per instance, "
            "so there is no instance type or count to rightsize.",
        )
    if observed.instance_type is None:
        return VariantResult(
            observed.variant,
            VariantStatus.SKIPPED,
            f"Variant {observed.variant} has no instance type (its capacity may come from inference "
            "components), so there is no instance type to rightsize.",
        )
    spec = catalogue.spec(observed.instance_type)
    utilization = _utilization(observed, spec)
    current = _current(observed, observed.instance_type, catalogue, region)
    insufficient = _insufficient(observed, min_samples, min_age)
    if insufficient is not None:
        return VariantResult(
            observed.variant, VariantStatus.INSUFFICIENT_DATA, insufficient, current, utilization=utilization
        )
    sizing = _Sizing(observed, targets, candidates, catalogue, region, spec)
    sizing.search(inference_recommender)
    return sizing.result(current, utilization)


def recommend_endpoint(
    variants: Sequence[ObservedVariant],
    targets: UtilizationTargets,
    candidates: Candidates,
    catalogue: PriceCatalogue,
    region: str,
    *,
    inference_recommender: Mapping[str, Sequence[InferenceRecommenderResult]] | None = None,
    min_samples: int = MIN_SAMPLES,
    min_age: timedelta = MIN_AGE,
) -> EndpointResult:
    """recommend_variant for every variant, each on its own; Inference Recommender results are
    keyed by variant name, because a job benchmarks one model and each variant serves its own."""
    results = inference_recommender or {}
    return EndpointResult(
        tuple(
            recommend_variant(
                v,
                targets,
                candidates,
                catalogue,
                region,
                inference_recommender=results.get(v.variant, ()),
                min_samples=min_samples,
                min_age=min_age,
            )
            for v in variants
        )
    )


# ---------------------------------------------------------------------------- data checks


def _insufficient(observed: ObservedVariant, min_samples: int, min_age: timedelta) -> str | None:
    later = "A recommendation follows once there is enough data; nothing to do until then."
    if observed.samples < min_samples:
        return (
            f"Only {observed.samples} utilisation datapoints in the look-back window (at least "
            f"{min_samples} needed): too few to know the peak. {later}"
        )
    age = None if observed.first_datapoint is None else observed.window_end - observed.first_datapoint
    if age is None or age < min_age:
        seen = "no datapoint" if age is None else f"datapoints from the last {format_duration(age)} only"
        return (
            f"The endpoint is younger than {format_duration(min_age)} ({seen}): its peak is not "
            f"known yet. {later}"
        )
    if observed.invocations_total == 0 and observed.cpu_peak is None:
        return (
            "No traffic and no CPUUtilization data in the look-back window: there is no load to "
            f"size for. {later}"
        )
    return None


def _utilization(observed: ObservedVariant, spec: InstanceSpec | None) -> UtilizationFigures:
    vcpus = spec.vcpu if spec else None
    gpus = spec.gpu_count if spec and spec.gpu_count else None
    return UtilizationFigures(
        cpu=_per(observed.cpu_peak, vcpus),
        memory=_round(observed.memory_peak, _TENTH),
        gpu=_per(observed.gpu_peak, gpus),
        gpu_memory=_per(observed.gpu_memory_peak, gpus),
        invocations_per_instance=_normal(_round(observed.invocations_per_instance_peak, _TENTH)),
        model_latency_ms=_round(observed.model_latency_peak_ms, _TENTH),
        samples=observed.samples,
        instances_at_peak=_normal(_round(observed.instances_at_peak, _TENTH)),
        period_seconds=observed.period_seconds,
        invocations_period_seconds=observed.invocations_period_seconds,
    )


def _current(
    observed: ObservedVariant, instance_type: str, catalogue: PriceCatalogue, region: str
) -> VariantConfiguration:
    price = catalogue.price(instance_type, region, Usage.HOSTING)
    if price is None:
        return VariantConfiguration(instance_type, observed.instance_count, None, "price unknown")
    return VariantConfiguration(
        instance_type, observed.instance_count, price.hourly_usd * observed.instance_count, price.describe()
    )


# ---------------------------------------------------------------------------- load and fit


@dataclass(frozen=True)
class _Load:
    """The variant's peak load in absolute terms, on the current instance type.

    count is the instances that served the peak (measured per period, not today's count);
    current_count what runs now, for judging the current configuration.
    """

    spec: InstanceSpec
    count: Decimal
    current_count: int
    vcpu: int
    total_vcpus: Decimal  # busy vCPUs over the whole variant at its peak
    memory_gib: Decimal | None  # None: no MemoryUtilization data
    gpu_model: bool
    total_gpus: Decimal | None  # busy GPUs over the whole variant at its peak
    gpu_memory_gib: Decimal | None
    latency_over: bool  # the observed peak latency is over maxModelLatency

    @property
    def busy_vcpus(self) -> Decimal:
        return self.total_vcpus / self.count

    @property
    def busy_gpus(self) -> Decimal | None:
        return None if self.total_gpus is None else self.total_gpus / self.count

    def describe(self, samples: int) -> str:
        count = self.count
        text = (
            f"Peak over {samples} datapoints: CPU {_pct(self.busy_vcpus * 100 / self.vcpu)} of "
            f"{self.vcpu} vCPUs = {_num(self.busy_vcpus, 2)} vCPU per instance"
        )
        if count != 1 or self.current_count != 1:
            text += f", {_num(self.total_vcpus, 2)} vCPUs over {_num(count, 1)} instances"
            if count != self.current_count:
                text += f" at the peak ({self.current_count} now)"
        memory = self.spec.memory_gib
        if self.memory_gib is not None and memory:
            text += (
                f"; memory {_pct(self.memory_gib * 100 / memory)} of {_num(memory, 1)} GiB = "
                f"{_num(self.memory_gib, 2)} GiB per instance"
            )
        else:
            text += "; no MemoryUtilization data, so only types with at least as much memory qualify"
        gpus = self.spec.gpu_count
        if self.busy_gpus is not None:
            text += (
                f"; GPU {_pct(self.busy_gpus * 100 / gpus)} of {gpus} GPU{'s' if gpus > 1 else ''} = "
                f"{_num(self.busy_gpus, 2)} GPU per instance"
            )
        if self.gpu_memory_gib is not None and self.spec.gpu_memory_gib:
            text += (
                f"; GPU memory {_pct(self.gpu_memory_gib * 100 / self.spec.gpu_memory_gib)} of "
                f"{_num(self.spec.gpu_memory_gib, 1)} GiB = {_num(self.gpu_memory_gib, 2)} GiB per instance"
            )
        return text + "."


@dataclass(frozen=True)
class _Fit:
    ok: bool
    figures: tuple[str, ...]  # "CPU at 44.8% (target 60%)"
    failures: tuple[str, ...]  # "memory 120.0% > 75%"


def _load(observed: ObservedVariant, spec: InstanceSpec | None, latency_over: bool) -> _Load | str:
    """The absolute peak load, or why it cannot be known (a sentence for the reason)."""
    name = observed.instance_type
    if spec is None or spec.vcpu is None or spec.memory_gib is None:
        return (
            f"the price catalogue has no vCPU and memory figures for the current type {name}, so its "
            "utilisation cannot be turned into a load; add its specs in a catalogue override"
        )
    if observed.cpu_peak is None:
        return (
            "there are no CPUUtilization datapoints in /aws/sagemaker/Endpoints for this variant; "
            "check that the endpoint publishes instance metrics"
        )
    gpu_model = spec.gpu_count > 0 and observed.has_gpu_metrics
    gpu_memory = None
    if gpu_model and observed.gpu_memory_peak is not None and spec.gpu_memory_gib:
        gpu_memory = observed.gpu_memory_peak / (_HUNDRED * spec.gpu_count) * spec.gpu_memory_gib
    count = observed.peak_instances
    # The whole variant at its peak; without a measured total, the busiest instance times the
    # instances of the peak (the current count when nothing says otherwise).
    cpu_total = observed.cpu_total_peak if observed.cpu_total_peak is not None else observed.cpu_peak * count
    total_gpus = None
    if gpu_model and observed.gpu_peak is not None:
        gpu_total = (
            observed.gpu_total_peak if observed.gpu_total_peak is not None else observed.gpu_peak * count
        )
        total_gpus = gpu_total / _HUNDRED
    return _Load(
        spec=spec,
        count=count,
        current_count=observed.instance_count,
        vcpu=spec.vcpu,
        total_vcpus=cpu_total / _HUNDRED,
        memory_gib=None
        if observed.memory_peak is None
        else observed.memory_peak / _HUNDRED * spec.memory_gib,
        gpu_model=gpu_model,
        total_gpus=total_gpus,
        gpu_memory_gib=gpu_memory,
        latency_over=latency_over,
    )


def _fit(load: _Load, spec: InstanceSpec, count: int, targets: UtilizationTargets) -> _Fit:
    """Whether `count` instances of `spec` keep every target at the peak load."""
    assert spec.vcpu is not None and spec.memory_gib is not None  # the caller skips other types
    checks = _Checks()
    checks.percent("CPU", load.total_vcpus / (count * spec.vcpu) * _HUNDRED, targets.cpu_utilization)
    # Memory is per instance (each holds the model): it never shrinks with more instances, and
    # grows by peak/new when the traffic of the peak is packed onto fewer.
    packing = max(Decimal(1), load.count / count)
    if load.memory_gib is not None:
        checks.percent(
            "memory", load.memory_gib * packing / spec.memory_gib * _HUNDRED, targets.memory_utilization
        )
    else:
        checks.at_least("memory", spec.memory_gib, load.spec.memory_gib)
    if load.gpu_model:
        if load.total_gpus is not None:
            busy = load.total_gpus
            checks.percent("GPU", busy / (count * spec.gpu_count) * _HUNDRED, targets.gpu_utilization)
        # GPU memory is held per instance like host memory, and kept under the memory target.
        if load.gpu_memory_gib is None:
            checks.at_least("GPU memory", spec.gpu_memory_gib, load.spec.gpu_memory_gib)
        elif not spec.gpu_memory_gib:
            checks.failures.append("GPU memory unknown in the price catalogue")
        else:
            used = load.gpu_memory_gib * packing / spec.gpu_memory_gib * _HUNDRED
            checks.percent("GPU memory", used, targets.memory_utilization)
    current_vcpus = load.current_count * load.vcpu
    if load.latency_over and (spec.vcpu < load.vcpu or count * spec.vcpu < current_vcpus):
        checks.failures.append(
            f"{count * spec.vcpu} vCPUs ({spec.vcpu} per instance) is fewer than the current "
            f"{current_vcpus} ({load.vcpu} per instance) while latency is over its target"
        )
    return _Fit(not checks.failures, tuple(checks.figures), tuple(checks.failures))


@dataclass
class _Checks:
    figures: list[str] = field(default_factory=list)  # "CPU at 44.8% (target 60%)"
    failures: list[str] = field(default_factory=list)  # "memory 120.0% > 75%"

    def percent(self, what: str, percent: Decimal, target: Decimal) -> None:
        if percent <= target:
            self.figures.append(f"{what} at {_pct(percent)} (target {_num(target, 1)}%)")
        else:
            self.failures.append(f"{what} {_pct(percent)} > {_num(target, 1)}%")

    def at_least(self, what: str, offered: Decimal | None, current: Decimal | None) -> None:
        # Without a utilisation figure, only as much as the current type has is known to be enough.
        if current is None:
            return
        if offered is None or offered < current:
            have = "unknown" if offered is None else f"{_num(offered, 1)} GiB"
            self.failures.append(
                f"{what} {have} < the current {_num(current, 1)} GiB, with no data to size by"
            )


# ---------------------------------------------------------------------------- the search


@dataclass(frozen=True)
class _Option:
    instance_type: str
    count: int
    unit_hourly: Decimal
    price_note: str
    source: RecommendationSource
    detail: str  # why it fits, in words

    @property
    def hourly(self) -> Decimal:
        return self.unit_hourly * self.count

    def key(self) -> tuple[Decimal, int, tuple[int, int, str], bool, str]:
        size = self.instance_type.rsplit(".", 1)[-1]
        return (self.hourly, self.count, size_order(size), self.source is not _IR, self.instance_type)

    def configuration(self) -> VariantConfiguration:
        return VariantConfiguration(self.instance_type, self.count, self.hourly, self.price_note)


class _Sizing:
    """One variant's search over candidate types and counts; collects options and why others fell."""

    def __init__(
        self,
        observed: ObservedVariant,
        targets: UtilizationTargets,
        candidates: Candidates,
        catalogue: PriceCatalogue,
        region: str,
        spec: InstanceSpec | None,
    ) -> None:
        self.observed = observed
        self.targets = targets
        self.candidates = candidates
        self.catalogue = catalogue
        self.region = region
        self.spec = spec
        self.latency_ms = _duration_ms(targets.max_model_latency) if targets.max_model_latency else None
        peak_latency = observed.model_latency_peak_ms
        self.latency_over = (
            self.latency_ms is not None and peak_latency is not None and peak_latency > self.latency_ms
        )
        self.load = _load(observed, spec, self.latency_over)
        self.options: list[_Option] = []
        self.skipped: list[SkippedCandidate] = []
        self.excluded: list[SkippedCandidate] = []
        self.misses: list[str] = []  # "ml.c5.xlarge x8: memory 120.0% > 75%"

    # -- candidates from CloudWatch utilisation

    def search(self, inference_recommender: Sequence[InferenceRecommenderResult]) -> None:
        names = self.candidates.instance_types or self.catalogue.same_family(
            self.observed.instance_type or ""
        )
        for name in dict.fromkeys(names or [self.observed.instance_type or ""]):
            self._size_type(name)
        for result in inference_recommender:
            self._size_recommender(result)

    def _size_type(self, name: str) -> None:
        spec = self.catalogue.spec(name)
        price = self.catalogue.price(name, self.region, Usage.HOSTING)
        gap = _catalogue_gap(name, spec, price is not None, self.region)
        if gap is not None:
            self.skipped.append(SkippedCandidate(name, gap))
            return
        assert spec is not None and price is not None
        ruled_out = self._rule_out(spec)
        if ruled_out is not None:
            self.excluded.append(SkippedCandidate(name, ruled_out))
            return
        if not isinstance(self.load, _Load):
            return  # no load to size by; the reason says why once
        fit = None
        for count in range(self.candidates.min_instances, self.candidates.max_instances + 1):
            fit = _fit(self.load, spec, count, self.targets)
            if fit.ok:
                detail = f"{name} x{count} keeps " + _and(fit.figures)
                self.options.append(_Option(name, count, price.hourly_usd, price.describe(), _CW, detail))
                return
        if fit is not None:
            self.misses.append(f"{name} x{self.candidates.max_instances}: " + _and(fit.failures))

    def _rule_out(self, spec: InstanceSpec) -> str | None:
        current = self.spec
        if current is not None and current.accelerator:
            if spec.accelerator != current.accelerator:
                return (
                    f"the model runs on {current.accelerator} and is compiled for it; only types "
                    "with the same accelerator can serve it, and its load is not measured"
                )
        elif spec.accelerator:
            return f"it needs a model compiled for its accelerator ({spec.accelerator})"
        if self.observed.has_gpu_metrics and current is not None and current.gpu_count and not spec.gpu_count:
            return "it has no GPU, and the model uses one (GPU metrics exist for the variant)"
        return None

    # -- candidates from Inference Recommender

    def _size_recommender(self, result: InferenceRecommenderResult) -> None:
        name = result.instance_type
        why = self._recommender_rule_out(result)
        if why is not None:
            self.excluded.append(SkippedCandidate(name, f"Inference Recommender result: {why}"))
            return
        unit, note = self._recommender_price(result)
        if unit is None:
            self.skipped.append(
                SkippedCandidate(
                    name,
                    f"Inference Recommender result without CostPerHour, and no hosting price for {name} "
                    f"in {self.region} in the price catalogue; add one in a catalogue override",
                )
            )
            return
        peak = self.observed.peak_requests_per_minute
        assert peak is not None  # ruled out above
        # The CPU target's headroom applies to throughput too: use only that share of MaxInvocations.
        capacity = Decimal(result.max_invocations) * self.targets.cpu_utilization / _HUNDRED
        for count in range(self.candidates.min_instances, self.candidates.max_instances + 1):
            if capacity * count >= peak:
                detail = (
                    f"Inference Recommender measured {name} at {result.max_invocations} invocations/min "
                    f"per instance with {_num(result.model_latency_ms, 1)} ms model latency; x{count} at "
                    f"{_num(self.targets.cpu_utilization, 1)}% of that (the CPU target's headroom) serves "
                    f"{_num(capacity * count, 1)}/min, at least the peak {_num(peak, 1)}/min"
                )
                self.options.append(_Option(name, count, unit, note, _IR, detail))
                return
        self.misses.append(
            f"{name} x{self.candidates.max_instances} (Inference Recommender): serves "
            f"{_num(capacity * self.candidates.max_instances, 1)}/min < the peak {_num(peak, 1)}/min"
        )

    def _recommender_rule_out(self, result: InferenceRecommenderResult) -> str | None:
        name = result.instance_type
        explicit = self.candidates.instance_types
        if explicit and name not in explicit:
            return f"{name} is not among candidates.instanceTypes"
        spec = self.catalogue.spec(name)
        gpu_model = self.observed.has_gpu_metrics and self.spec is not None and self.spec.gpu_count > 0
        if gpu_model and (spec is None or not spec.gpu_count):
            return f"{name} has no GPU (or the price catalogue does not know it), and the model uses one"
        if self.latency_ms is not None and result.model_latency_ms > self.latency_ms:
            return (
                f"model latency {_num(result.model_latency_ms, 1)} ms is over the "
                f"{_num(self.latency_ms, 1)} ms target"
            )
        if self.observed.peak_requests_per_minute is None:
            return "no Invocations data to compare its MaxInvocations with"
        if result.instance_count < 1 or result.max_invocations <= 0:
            return "it gives no instance count or MaxInvocations"
        return None

    def _recommender_price(self, result: InferenceRecommenderResult) -> tuple[Decimal | None, str]:
        # The catalogue first, so the saving compares prices from one source; CostPerHour otherwise.
        price = self.catalogue.price(result.instance_type, self.region, Usage.HOSTING)
        if price is not None:
            return price.hourly_usd, price.describe()
        if result.cost_per_hour is None or result.cost_per_hour <= 0:
            return None, ""
        # RecommendationMetrics.CostPerHour is "the cost per hour for the instance" (API
        # reference): already per instance, so it is not divided by the count.
        unit = result.cost_per_hour
        return unit, f"${unit:f}/h {result.instance_type} from Inference Recommender's CostPerHour"

    # -- the outcome

    def result(self, current: VariantConfiguration, utilization: UtilizationFigures) -> VariantResult:
        load = self.load
        meets = None
        if isinstance(load, _Load):
            meets = _fit(load, load.spec, load.current_count, self.targets).ok and not self.latency_over
        base = VariantResult(
            self.observed.variant,
            VariantStatus.KEEP_CURRENT,
            "",
            current,
            utilization=utilization,
            skipped_candidates=tuple(self.skipped),
            excluded_candidates=tuple(self.excluded),
            current_meets_targets=meets,
        )
        if not self.options and not isinstance(load, _Load):
            reason = f"Cannot size variant {self.observed.variant}: {load}."
            return replace(base, status=VariantStatus.INSUFFICIENT_DATA, reason=reason)
        # Staying as is saves exactly nothing, whatever the current price.
        keep = replace(base, recommended=current, monthly_savings=Decimal("0.00"), source=_CW)
        if not self.options:
            return replace(keep, reason=self._reason(self._no_fit()))
        best = min(self.options, key=_Option.key)
        chosen = best.configuration()
        if (best.instance_type, best.count) == (current.instance_type, current.instance_count):
            done = f"The current configuration is already the cheapest that meets the targets: {best.detail}"
            if self.latency_over:
                done = (
                    f"Nothing cheaper keeps at least the current vCPUs: {best.detail}, so the "
                    "recommendation is to stay as is. Meeting the latency target takes more capacity or "
                    "a faster model, which a cost recommendation does not make"
                )
            return replace(keep, source=best.source, reason=self._reason(done))
        costs = f"It costs ${chosen.hourly:f}/h (${chosen.monthly:f}/month)"
        if current.monthly is None or chosen.monthly is None:
            why = (
                f"{best.detail}. {costs}; the current {current.instance_type} x{current.instance_count} has "
                f"no hosting price in {self.region} in the price catalogue, so the saving is unknown "
                "(add its price in a catalogue override)"
            )
            return self._recommend(base, chosen, None, best.source, why)
        savings = current.monthly - chosen.monthly
        if savings <= 0:
            return replace(
                keep,
                source=best.source,
                reason=self._reason(self._not_cheaper(best, chosen, -savings, meets)),
            )
        why = (
            f"{best.detail}. {costs} instead of ${current.hourly:f}/h (${current.monthly:f}/month): "
            f"${savings:f}/month less"
        )
        return self._recommend(base, chosen, savings, best.source, why)

    def _recommend(
        self,
        base: VariantResult,
        chosen: VariantConfiguration,
        savings: Decimal | None,
        source: RecommendationSource,
        why: str,
    ) -> VariantResult:
        return replace(
            base,
            status=VariantStatus.RECOMMENDED,
            reason=self._reason(why),
            recommended=chosen,
            monthly_savings=savings,
            source=source,
        )

    def _reason(self, conclusion: str) -> str:
        """The load, the rules that applied, then the conclusion: sentences a person can read."""
        load = self.load
        parts = []
        if isinstance(load, _Load):
            parts.append(load.describe(self.observed.samples))
        else:
            parts.append(
                f"Utilisation cannot size this variant: {load}; only Inference Recommender results count."
            )
        if isinstance(load, _Load) and load.gpu_model:
            parts.append("The model uses a GPU, so only GPU types qualify.")
        elif self.spec is not None and self.spec.gpu_count and not self.observed.has_gpu_metrics:
            parts.append("There are no GPU metrics, so types without a GPU qualify too.")
        peak, target = self.observed.model_latency_peak_ms, self.latency_ms
        if self.latency_over:
            assert peak is not None and target is not None
            parts.append(
                f"Model latency peaked at {_num(peak, 1)} ms, over the {_num(target, 1)} ms target: "
                "utilisation cannot show the latency of a smaller instance, so no configuration with "
                "fewer vCPUs than now is considered."
            )
        elif peak is not None and target is not None:
            parts.append(
                f"Model latency peaked at {_num(peak, 1)} ms, within the {_num(target, 1)} ms target."
            )
        if self.skipped:
            names = ", ".join(s.instance_type for s in self.skipped)
            parts.append(f"Skipped candidate type(s) the price catalogue cannot size or price: {names}.")
        parts.append(conclusion + ".")
        return " ".join(parts)

    def _no_fit(self) -> str:
        misses = "; ".join(self.misses[:4]) if self.misses else "no candidate type could be sized"
        return (
            f"No candidate keeps every target at the peak within {self.candidates.min_instances}-"
            f"{self.candidates.max_instances} instances ({misses}), so the recommendation is to stay as "
            "is; add candidate types, raise maxInstances or relax the targets"
        )

    @staticmethod
    def _not_cheaper(best: _Option, chosen: VariantConfiguration, extra: Decimal, meets: bool | None) -> str:
        if meets is False:
            more = f"${extra:f}/month more" if extra else "the same"
            return (
                "The current configuration does not keep the targets at the peak; the cheapest that "
                f"does is {chosen.describe()}, {more}, so nothing is recommended (rightsizing "
                f"recommends savings only; consider autoscaling or relaxing the targets): {best.detail}"
            )
        return (
            "The current configuration is already the cheapest that meets the targets: the cheapest "
            f"other candidate, {chosen.describe()}, saves nothing"
        )


def _catalogue_gap(name: str, spec: InstanceSpec | None, priced: bool, region: str) -> str | None:
    fix = "add it in a catalogue override"
    if spec is None and not priced:
        return f"{name} is not in the price catalogue (no specs, no hosting price in {region}); {fix}"
    if spec is None or spec.vcpu is None or spec.memory_gib is None:
        return f"the price catalogue has no vCPU and memory figures for {name}; {fix}"
    if not priced:
        return f"the price catalogue has no hosting price for {name} in {region}; {fix}"
    return None


# ---------------------------------------------------------------------------- numbers


def _duration_ms(value: timedelta) -> Decimal:
    return Decimal(value // timedelta(microseconds=1)) / 1000


def _round(value: Decimal | None, step: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(step, ROUND_HALF_UP)


def _per(value: Decimal | None, units: int | None) -> Decimal | None:
    """A summed-over-units percentage as a percent of all units (CPUUtilization / vCPUs)."""
    return None if value is None or not units else _round(value / units, _TENTH)


def _normal(value: Decimal | None) -> Decimal | None:
    """Without trailing zeros or an exponent: 410.0 -> 410."""
    if value is None:
        return None
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, ROUND_HALF_UP)


def _num(value: Decimal, places: int) -> str:
    """value to `places` decimals, trailing zeros dropped: 0.896 -> "0.9" (1), 60 -> "60"."""
    rounded = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP).normalize()
    return format(rounded, "f")


def _pct(value: Decimal) -> str:
    return f"{value.quantize(_TENTH, ROUND_HALF_UP):f}%"


def _and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _sum(values: Sequence[Decimal | None]) -> Decimal | None:
    if any(v is None for v in values):
        return None
    return sum((v for v in values if v is not None), Decimal("0.00"))
