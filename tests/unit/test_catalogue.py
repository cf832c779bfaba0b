"""The price catalogue: lookups with region fallback, never 0 for unknown, overrides, monthly maths."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from mlcost.domain.catalogue import (
    HOURS_PER_MONTH,
    InstanceSpec,
    Price,
    PriceCatalogue,
    Usage,
    monthly,
    parse_instance_type,
    size_order,
)

FMB = date(2025, 1, 26)
JHU = date(2025, 4, 29)


def price(
    instance_type: str,
    usage: Usage,
    region: str | None,
    hourly: str,
    source: str = "FMB",
    as_of: date = FMB,
) -> Price:
    return Price(instance_type, usage, region, Decimal(hourly), source, as_of)


def spec(instance_type: str, vcpu: int | None = 4, memory: str | None = "8", gpus: int = 0) -> InstanceSpec:
    return InstanceSpec(instance_type, vcpu, Decimal(memory) if memory else None, gpus)


CATALOGUE = PriceCatalogue(
    specs=[spec("ml.c5.xlarge"), spec("ml.c5.2xlarge", 8, "16"), spec("ml.g5.xlarge", 4, "16", 1)],
    prices=[
        price("ml.c5.xlarge", Usage.HOSTING, "us-east-1", "0.204"),
        price("ml.c5.xlarge", Usage.STUDIO, None, "0.204", "JHU", JHU),
        price("ml.c5.2xlarge", Usage.HOSTING, "us-east-1", "0.408"),
        price("ml.g5.xlarge", Usage.TRAINING, "us-east-1", "1.408", "RN", date(2026, 9, 24)),
        price("ml.g5.xlarge", Usage.TRAINING, "ap-south-1", "1.69", "RN", date(2026, 9, 24)),
        price("ml.g4dn.xlarge", Usage.UNSPECIFIED, None, "0.7364", "GOE", date(2021, 11, 29)),
        price("ml.c5.4xlarge", Usage.HOSTING, "us-east-1", "0.816"),
    ],
)


# ---------------------------------------------------------------------------- lookups


@pytest.mark.parametrize(
    ("instance_type", "region", "usage", "hourly", "stated_region", "requested"),
    [
        # the region's own price
        ("ml.c5.xlarge", "us-east-1", Usage.HOSTING, "0.204", "us-east-1", None),
        ("ml.g5.xlarge", "ap-south-1", Usage.TRAINING, "1.69", "ap-south-1", None),
        # no price for the region: the usage's price whose region the source does not state
        ("ml.c5.xlarge", "eu-west-1", Usage.STUDIO, "0.204", None, "eu-west-1"),
        ("ml.c5.xlarge", "us-east-1", Usage.STUDIO, "0.204", None, "us-east-1"),
        # asking without a region finds only region-less rows
        ("ml.c5.xlarge", None, Usage.STUDIO, "0.204", None, None),
    ],
)
def test_price_exact_then_region_not_stated(
    instance_type: str,
    region: str | None,
    usage: Usage,
    hourly: str,
    stated_region: str | None,
    requested: str | None,
) -> None:
    found = CATALOGUE.price(instance_type, region, usage)
    assert found is not None
    assert found.hourly_usd == Decimal(hourly)
    assert found.region == stated_region
    assert found.requested_region == requested
    assert found.region_stated is (stated_region is not None)


@pytest.mark.parametrize(
    ("instance_type", "region", "usage"),
    [
        ("ml.c5.9xlarge", "us-east-1", Usage.HOSTING),  # type unknown
        ("ml.c5.xlarge", "eu-west-1", Usage.HOSTING),  # us-east-1's price is not eu-west-1's
        ("ml.c5.xlarge", "us-east-1", Usage.TRAINING),  # no training price at all
        ("ml.g5.xlarge", "eu-west-1", Usage.TRAINING),
        ("ml.g4dn.xlarge", "us-east-1", Usage.TRAINING),  # a price for no stated usage is not used
        ("ml.g4dn.xlarge", "us-east-1", Usage.NOTEBOOK),
        ("ml.c5.xlarge", None, Usage.HOSTING),
        ("not-a-type", "us-east-1", Usage.HOSTING),
    ],
)
def test_unknown_price_is_none_never_zero(instance_type: str, region: str | None, usage: Usage) -> None:
    assert CATALOGUE.price(instance_type, region, usage) is None


def test_unspecified_price_answers_only_an_unspecified_question() -> None:
    found = CATALOGUE.price("ml.g4dn.xlarge", "us-east-1", Usage.UNSPECIFIED)
    assert found is not None
    assert found.source == "GOE"


def test_lookup_does_not_change_the_catalogue() -> None:
    CATALOGUE.price("ml.c5.xlarge", "eu-west-1", Usage.STUDIO)
    stored = CATALOGUE.prices("ml.c5.xlarge")
    assert [p.requested_region for p in stored] == [None, None]


@pytest.mark.parametrize(
    ("found", "text"),
    [
        (
            CATALOGUE.price("ml.c5.xlarge", "us-east-1", Usage.HOSTING),
            "$0.204/h ml.c5.xlarge hosting us-east-1 (source FMB, as of 2025-01-26)",
        ),
        (
            CATALOGUE.price("ml.c5.xlarge", "eu-west-1", Usage.STUDIO),
            "$0.204/h ml.c5.xlarge studio, region not stated "
            "(asked for eu-west-1; source JHU, as of 2025-04-29)",
        ),
        (
            CATALOGUE.price("ml.c5.xlarge", None, Usage.STUDIO),
            "$0.204/h ml.c5.xlarge studio, region not stated (source JHU, as of 2025-04-29)",
        ),
        (
            price("ml.m5.xlarge", Usage.TRAINING, "us-east-1", "0.2300000000", "AWS Price List API"),
            "$0.2300000000/h ml.m5.xlarge training us-east-1 (source AWS Price List API, as of 2025-01-26)",
        ),
        (price("ml.p5.48xlarge", Usage.HOSTING, "us-east-1", "1E+2"), "$100/h ml.p5.48xlarge hosting"),
    ],
)
def test_describe_says_which_price(found: Price | None, text: str) -> None:
    assert found is not None
    assert found.describe().startswith(text)


def test_source_label_names_the_source() -> None:
    labelled = replace(
        CATALOGUE.prices("ml.c5.xlarge")[0], source_detail="aws-samples/... fmbench/configs/pricing.yml"
    )
    assert labelled.source_label == "FMB (aws-samples/... fmbench/configs/pricing.yml)"
    assert CATALOGUE.prices("ml.c5.xlarge")[0].source_label == "FMB"


@pytest.mark.parametrize(
    ("hourly", "error"),
    [
        (Decimal(0), ValueError),  # 0 would pass an unknown price off as free
        (Decimal("-0.1"), ValueError),
        (Decimal("NaN"), TypeError),
        (Decimal("Infinity"), TypeError),
        (0.204, TypeError),  # float: never for money
        ("0.204", TypeError),
    ],
)
def test_a_price_must_be_a_positive_decimal(hourly: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Price("ml.c5.xlarge", Usage.HOSTING, "us-east-1", hourly, "FMB", FMB)  # type: ignore[arg-type]


def test_a_price_needs_a_source_and_a_real_instance_type() -> None:
    with pytest.raises(ValueError, match="source"):
        Price("ml.c5.xlarge", Usage.HOSTING, "us-east-1", Decimal(1), "", FMB)
    with pytest.raises(ValueError, match=re.escape("ml.<family>.<size>")):
        Price("c5.xlarge", Usage.HOSTING, "us-east-1", Decimal(1), "FMB", FMB)


# ---------------------------------------------------------------------------- specs, families


def test_spec_lookup_and_unknown_spec() -> None:
    found = CATALOGUE.spec("ml.g5.xlarge")
    assert found is not None
    assert (found.family, found.size, found.vcpu, found.memory_gib, found.gpu_count) == (
        "g5",
        "xlarge",
        4,
        Decimal(16),
        1,
    )
    assert CATALOGUE.spec("ml.c5.4xlarge") is None  # priced, but no spec known


@pytest.mark.parametrize(
    ("instance_type", "family", "size"),
    [
        ("ml.c5.xlarge", "c5", "xlarge"),
        ("ml.g4dn.12xlarge", "g4dn", "12xlarge"),
        ("ml.p4de.24xlarge", "p4de", "24xlarge"),
        ("ml.t3.medium", "t3", "medium"),
        ("ml.trn1n.32xlarge", "trn1n", "32xlarge"),
    ],
)
def test_parse_instance_type(instance_type: str, family: str, size: str) -> None:
    assert parse_instance_type(instance_type) == (family, size)


@pytest.mark.parametrize("bad", ["c5.xlarge", "ml.c5", "ml..xlarge", "ML.C5.XLARGE", "ml.c5.xlarge ", ""])
def test_parse_instance_type_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape("ml.<family>.<size>")):
        parse_instance_type(bad)


@pytest.mark.parametrize(
    ("sizes", "ordered"),
    [
        (["2xlarge", "xlarge", "large", "medium"], ["medium", "large", "xlarge", "2xlarge"]),
        (["48xlarge", "12xlarge", "4xlarge", "metal"], ["4xlarge", "12xlarge", "48xlarge", "metal"]),
        (["small", "micro", "nano"], ["nano", "micro", "small"]),
    ],
)
def test_size_order(sizes: list[str], ordered: list[str]) -> None:
    assert sorted(sizes, key=size_order) == ordered


@pytest.mark.parametrize(
    ("instance_type", "family"),
    [
        ("ml.c5.xlarge", ["ml.c5.xlarge", "ml.c5.2xlarge", "ml.c5.4xlarge"]),
        ("ml.c5.9xlarge", ["ml.c5.xlarge", "ml.c5.2xlarge", "ml.c5.4xlarge"]),  # not itself: unknown
        ("ml.g5.xlarge", ["ml.g5.xlarge"]),
        ("ml.m5.xlarge", []),
        ("garbage", []),
    ],
)
def test_same_family(instance_type: str, family: list[str]) -> None:
    assert CATALOGUE.same_family(instance_type) == family


def test_instance_types_and_prices_are_ordered_whatever_the_input_order() -> None:
    shuffled = PriceCatalogue(specs=reversed(CATALOGUE.specs()), prices=reversed(CATALOGUE.prices()))
    assert shuffled.instance_types() == CATALOGUE.instance_types()
    assert shuffled.prices() == CATALOGUE.prices()
    assert shuffled == CATALOGUE
    assert CATALOGUE.instance_types()[:3] == ["ml.c5.xlarge", "ml.c5.2xlarge", "ml.c5.4xlarge"]


def test_sources_oldest_first() -> None:
    assert CATALOGUE.describe_sources() == (
        "GOE as of 2021-11-29, FMB as of 2025-01-26, JHU as of 2025-04-29, RN as of 2026-09-24"
    )
    assert PriceCatalogue().describe_sources() == "none"


# ---------------------------------------------------------------------------- overrides


def test_override_wins_and_the_rest_stays() -> None:
    override = PriceCatalogue(
        specs=[spec("ml.c5.xlarge", 4, "8.5")],
        prices=[
            price("ml.c5.xlarge", Usage.HOSTING, "us-east-1", "0.19", "EDP", date(2026, 10, 1)),
            price("ml.c5.xlarge", Usage.HOSTING, "eu-west-1", "0.23", "EDP", date(2026, 10, 1)),
        ],
    )
    merged = CATALOGUE.merged(override)
    winner = merged.price("ml.c5.xlarge", "us-east-1", Usage.HOSTING)
    assert winner is not None
    assert (winner.hourly_usd, winner.source) == (Decimal("0.19"), "EDP")
    assert merged.price("ml.c5.xlarge", "eu-west-1", Usage.HOSTING) is not None
    assert merged.price("ml.c5.2xlarge", "us-east-1", Usage.HOSTING) == CATALOGUE.price(
        "ml.c5.2xlarge", "us-east-1", Usage.HOSTING
    )
    spec_found = merged.spec("ml.c5.xlarge")
    assert spec_found is not None
    assert spec_found.memory_gib == Decimal("8.5")
    # merging builds a new catalogue: the base is untouched
    base = CATALOGUE.price("ml.c5.xlarge", "us-east-1", Usage.HOSTING)
    assert base is not None
    assert base.source == "FMB"


def test_override_without_specs_keeps_the_base_specs() -> None:
    override = PriceCatalogue(prices=[price("ml.g5.xlarge", Usage.HOSTING, "us-east-1", "1.2", "EDP")])
    assert CATALOGUE.merged(override).spec("ml.g5.xlarge") == CATALOGUE.spec("ml.g5.xlarge")


def test_later_row_of_the_same_key_wins() -> None:
    first = price("ml.c5.xlarge", Usage.HOSTING, "us-east-1", "0.204")
    second = price("ml.c5.xlarge", Usage.HOSTING, "us-east-1", "0.2", "EDP")
    assert PriceCatalogue(prices=[first, second]).prices() == [second]


# ---------------------------------------------------------------------------- monthly maths


@pytest.mark.parametrize(
    ("hourly", "month"),
    [
        ("0.204", "148.92"),  # API.md's recommended ml.c5.xlarge
        ("0.922", "673.06"),  # API.md's current 2 x ml.m5.2xlarge at 0.461
        ("0.1", "73"),
        ("0.7364", "537.572"),
        ("113.068", "82539.64"),
        ("0.000001", "0.00073"),
    ],
)
def test_monthly_is_exact_decimal(hourly: str, month: str) -> None:
    result = monthly(Decimal(hourly))
    assert isinstance(result, Decimal)
    assert result == Decimal(month)
    assert PriceCatalogue.monthly(Decimal(hourly)) == result


def test_monthly_refuses_float() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        monthly(0.1)  # type: ignore[arg-type]


def test_hours_per_month() -> None:
    assert Decimal(730) == HOURS_PER_MONTH == Decimal(365 * 24) / 12


# ---------------------------------------------------------------------------- usages


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("hosting", Usage.HOSTING),
        ("realtime_inference_hosting", Usage.HOSTING),
        ("training", Usage.TRAINING),
        ("notebook", Usage.NOTEBOOK),
        ("notebook_instance", Usage.NOTEBOOK),
        ("processing", Usage.PROCESSING),
        ("studio", Usage.STUDIO),
        ("studio_jupyterlab", Usage.STUDIO),
        ("unspecified_notebook_or_training", Usage.UNSPECIFIED),
        (" Hosting ", Usage.HOSTING),
    ],
)
def test_usage_parse(text: str, usage: Usage) -> None:
    assert Usage.parse(text) is usage


def test_usage_parse_lists_the_accepted_values() -> None:
    with pytest.raises(ValueError, match="unknown usage 'inference'; use one of: hosting, training"):
        Usage.parse("inference")
