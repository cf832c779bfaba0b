"""The price catalogue of SageMaker instance types: specs, hourly prices by region and usage."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

# 365 days x 24 hours / 12 months: the month AWS's pricing pages and calculator bill by.
HOURS_PER_MONTH = Decimal(730)

# ml.<family>.<size>, e.g. ml.c5.xlarge, ml.g4dn.12xlarge, ml.p4de.24xlarge, ml.t3.medium.
INSTANCE_TYPE = re.compile(r"^ml\.(?P<family>[a-z0-9][a-z0-9-]*)\.(?P<size>[a-z0-9]+)$")

# Sizes named by a word, smallest first; "Nxlarge" sizes follow them, ordered by N.
_NAMED_SIZES = {"nano": 0, "micro": 1, "small": 2, "medium": 3, "large": 4}
_XLARGE = re.compile(r"^(\d*)xlarge$")


# The setting that names a price file merged over the shipped prices (mlcost.config reads it).
PRICE_OVERRIDE_SETTING = "MLCOST_PRICE_CATALOGUE"


class Usage(StrEnum):
    """What an instance hour is billed as: SageMaker prices the same type differently per usage."""

    HOSTING = "hosting"  # real-time inference endpoints
    TRAINING = "training"  # training jobs
    NOTEBOOK = "notebook"  # notebook instances
    PROCESSING = "processing"  # processing jobs
    STUDIO = "studio"  # Studio JupyterLab / Code Editor spaces
    # The source gives a price without saying what for (GOE: "notebook or training"). Such a
    # price answers only lookups for UNSPECIFIED, never a question about a definite usage.
    UNSPECIFIED = "unspecified"

    @classmethod
    def parse(cls, text: str) -> Usage:
        """The usage named by our value ("hosting") or the shipped CSV's ("realtime_inference_hosting")."""
        key = text.strip().lower()
        found = _USAGE_ALIASES.get(key)
        if found is None:
            try:
                found = cls(key)
            except ValueError:
                accepted = ", ".join([*(u.value for u in cls), *sorted(_USAGE_ALIASES)])
                raise ValueError(f"unknown usage {text!r}; use one of: {accepted}") from None
        return found


# The usage column values of mlcost/data/sagemaker_instances.csv (see its README).
_USAGE_ALIASES = {
    "realtime_inference_hosting": Usage.HOSTING,
    "notebook_instance": Usage.NOTEBOOK,
    "studio_jupyterlab": Usage.STUDIO,
    "unspecified_notebook_or_training": Usage.UNSPECIFIED,
}


def parse_instance_type(instance_type: str) -> tuple[str, str]:
    """(family, size) of a SageMaker instance type: ml.c5.xlarge -> ("c5", "xlarge")."""
    match = INSTANCE_TYPE.match(instance_type)
    if match is None:
        raise ValueError(
            f"{instance_type!r} is not a SageMaker instance type like ml.c5.xlarge (ml.<family>.<size>)"
        )
    return match["family"], match["size"]


def size_order(size: str) -> tuple[int, int, str]:
    """Sort key putting sizes smallest first: medium < large < xlarge < 2xlarge < ... < metal."""
    if size in _NAMED_SIZES:
        return (_NAMED_SIZES[size], 0, size)
    if match := _XLARGE.match(size):
        return (len(_NAMED_SIZES), int(match[1] or 1), size)
    return (len(_NAMED_SIZES) + 1, 0, size)  # metal and sizes we do not know: last, by name


def monthly(hourly: Decimal) -> Decimal:
    """The cost of running `hourly` for a month of HOURS_PER_MONTH hours, exactly (no rounding)."""
    if not isinstance(hourly, Decimal):
        # A float here would carry binary rounding errors into every dollar figure after it.
        raise TypeError(f"money must be a Decimal, got {type(hourly).__name__}")
    return hourly * HOURS_PER_MONTH


@dataclass(frozen=True)
class InstanceSpec:
    """What one instance of a type offers. None means the sources do not say (not zero)."""

    instance_type: str
    vcpu: int | None
    memory_gib: Decimal | None
    gpu_count: int = 0
    gpu_model: str | None = None
    gpu_memory_gib: Decimal | None = None  # total over all GPUs of the instance
    accelerator: str | None = None  # non-NVIDIA chips, e.g. "AWS Inferentia2 x1 (32 GB HBM each)"
    source: str = ""  # where the specs come from, e.g. "JHU+ECI-noGPU"
    family: str = field(init=False)
    size: str = field(init=False)

    def __post_init__(self) -> None:
        family, size = parse_instance_type(self.instance_type)
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "size", size)
        if self.vcpu is not None and self.vcpu <= 0:
            raise ValueError(f"{self.instance_type}: vcpu must be positive, got {self.vcpu}")
        if self.gpu_count < 0:
            raise ValueError(f"{self.instance_type}: gpu_count must not be negative, got {self.gpu_count}")
        for name in ("memory_gib", "gpu_memory_gib"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Decimal) or not value.is_finite() or value <= 0):
                raise ValueError(f"{self.instance_type}: {name} must be a positive Decimal, got {value!r}")


@dataclass(frozen=True)
class Price:
    """The on-demand price of one instance hour of a type, for one usage in one region.

    region None: the source does not say which region the price is for. `requested_region`
    is set when the catalogue answered a lookup for that region with such a price, so every
    figure computed from it can say so.
    """

    instance_type: str
    usage: Usage
    region: str | None
    hourly_usd: Decimal
    source: str  # short key, e.g. "FMB" or "AWS Price List API"
    as_of: date
    source_detail: str = ""  # what the key stands for, e.g. the file and repository
    requested_region: str | None = None

    def __post_init__(self) -> None:
        parse_instance_type(self.instance_type)
        if not isinstance(self.hourly_usd, Decimal) or not self.hourly_usd.is_finite():
            raise TypeError(
                f"{self.instance_type}: hourly_usd must be a finite Decimal, got {self.hourly_usd!r}"
            )
        if self.hourly_usd <= 0:
            # A price of 0 would make an unknown price look free; leave unknown prices out.
            raise ValueError(
                f"{self.instance_type}: hourly_usd must be greater than 0, got {self.hourly_usd}"
            )
        if not self.source:
            raise ValueError(f"{self.instance_type}: a price needs a source")

    @property
    def region_stated(self) -> bool:
        return self.region is not None

    @property
    def source_label(self) -> str:
        """The key and, when known, what it stands for: "FMB (aws-samples/...pricing.yml)"."""
        return f"{self.source} ({self.source_detail})" if self.source_detail else self.source

    def describe(self) -> str:
        """The price and where it comes from, for every figure computed from it.

        "$0.204/h ml.c5.xlarge hosting us-east-1 (source FMB, as of 2025-01-26)"
        """
        provenance = f"source {self.source}, as of {self.as_of.isoformat()}"
        head = f"${self.hourly_usd:f}/h {self.instance_type} {self.usage.value}"
        if self.region is not None:
            return f"{head} {self.region} ({provenance})"
        asked = f"asked for {self.requested_region}; " if self.requested_region else ""
        return f"{head}, region not stated ({asked}{provenance})"


PriceKey = tuple[str, str | None, Usage]


class PriceCatalogue:
    """Specs and prices of SageMaker instance types; immutable once built.

    When several prices or specs share a key (type, region, usage / type), the last given wins.
    A type, region or usage without a price has none: lookups answer None, never 0.
    """

    HOURS_PER_MONTH = HOURS_PER_MONTH

    def __init__(self, specs: Iterable[InstanceSpec] = (), prices: Iterable[Price] = ()) -> None:
        self._specs: dict[str, InstanceSpec] = {s.instance_type: s for s in specs}
        self._prices: dict[PriceKey, Price] = {
            (p.instance_type, p.region, p.usage): replace(p, requested_region=None) for p in prices
        }

    def __repr__(self) -> str:
        return f"PriceCatalogue({len(self._specs)} specs, {len(self._prices)} prices)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PriceCatalogue):
            return NotImplemented
        return self._specs == other._specs and self._prices == other._prices

    def __hash__(self) -> int:
        return hash((frozenset(self._specs.items()), frozenset(self._prices.items())))

    # ------------------------------------------------------------------------ lookups

    def spec(self, instance_type: str) -> InstanceSpec | None:
        return self._specs.get(instance_type)

    def price(self, instance_type: str, region: str | None, usage: Usage) -> Price | None:
        """The price for this region and usage; else the usage's price whose region the source
        does not state (marked with requested_region); else None."""
        exact = self._prices.get((instance_type, region, usage))
        if exact is not None or region is None:
            return exact
        unstated = self._prices.get((instance_type, None, usage))
        return replace(unstated, requested_region=region) if unstated is not None else None

    def missing_prices(
        self, wanted: Iterable[tuple[str, str | None, Usage]]
    ) -> list[tuple[str, str | None, Usage]]:
        """The (instance type, region, usage) of `wanted` that have no price, in order, once each."""
        missing: list[tuple[str, str | None, Usage]] = []
        for key in wanted:
            if key not in missing and self.price(*key) is None:
                missing.append(key)
        return missing

    def explain_missing(self, wanted: Iterable[tuple[str, str | None, Usage]]) -> str | None:
        """For a status message when a cost cannot be computed: which prices are missing and how to
        supply them; None when every wanted price is known."""
        missing = self.missing_prices(wanted)
        if not missing:
            return None
        listed = ", ".join(
            f"{usage.value} {instance_type} in {region or '(any region)'}"
            for instance_type, region, usage in missing
        )
        return (
            f"the price catalogue has no price for {listed}. Supply it in a price override file "
            f"({PRICE_OVERRIDE_SETTING}, docs/price-catalogue.md: one row per instance type, region and "
            "usage with price_per_hour_usd), or let the operator read the AWS Price List API "
            "(pricing:GetProducts)"
        )

    def specs(self) -> list[InstanceSpec]:
        """Every spec, by family and size."""
        return [self._specs[name] for name in sorted(self._specs, key=_type_order)]

    def prices(self, instance_type: str | None = None) -> list[Price]:
        """Every price (of one type), by family and size, usage, then region (region-less last)."""
        found = [p for p in self._prices.values() if instance_type in (None, p.instance_type)]
        return sorted(
            found,
            key=lambda p: (_type_order(p.instance_type), p.usage.value, p.region is None, p.region or ""),
        )

    def instance_types(self) -> list[str]:
        """Every type with a spec or a price, smallest size first within a family."""
        names = set(self._specs) | {key[0] for key in self._prices}
        return sorted(names, key=_type_order)

    def same_family(self, instance_type: str) -> list[str]:
        """The catalogue's types of instance_type's family (itself too, if known), smallest first.

        Rightsizing's default candidates. Empty when instance_type is not a SageMaker type.
        """
        try:
            family, _ = parse_instance_type(instance_type)
        except ValueError:
            return []
        return [name for name in self.instance_types() if parse_instance_type(name)[0] == family]

    def sources(self) -> list[tuple[str, date]]:
        """The distinct (source, as of) pairs of the prices, oldest first."""
        return sorted({(p.source, p.as_of) for p in self._prices.values()}, key=lambda s: (s[1], s[0]))

    def describe_sources(self) -> str:
        """The sources for messages about the catalogue in use: "GOE as of 2021-11-29, FMB as of ..."."""
        return ", ".join(f"{source} as of {as_of.isoformat()}" for source, as_of in self.sources()) or "none"

    # ------------------------------------------------------------------------ combining

    def merged(self, override: PriceCatalogue) -> PriceCatalogue:
        """This catalogue with override's specs and prices in place of the ones they share a key with.

        A spec is replaced whole, so an override that knows only some spec fields should give
        none (the spec stays) or all of them.
        """
        return PriceCatalogue(
            specs=[*self._specs.values(), *override._specs.values()],
            prices=[*self._prices.values(), *override._prices.values()],
        )

    @staticmethod
    def monthly(hourly: Decimal) -> Decimal:
        """The cost of running `hourly` for HOURS_PER_MONTH hours."""
        return monthly(hourly)


def _type_order(instance_type: str) -> tuple[str, tuple[int, int, str]]:
    match = INSTANCE_TYPE.match(instance_type)
    if match is None:  # PriceCatalogue only holds valid types; kept total for safety
        return (instance_type, (0, 0, ""))
    return (match["family"], size_order(match["size"]))
