"""AWS Price List API: on-demand SageMaker instance prices and specs of one region."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mlcost.aws.errors import aws_call
from mlcost.domain.catalogue import INSTANCE_TYPE, InstanceSpec, Price, PriceCatalogue, Usage

__all__ = [
    "PRICE_LIST_SOURCE",
    "PRODUCT_FAMILY",
    "SERVICE_CODE",
    "PricingClient",
    "parse_products",
    "usage_of",
]

SERVICE_CODE = "AmazonSageMaker"
PRODUCT_FAMILY = "ML Instance"
PRICE_LIST_SOURCE = "AWS Price List API"
HOURLY_UNIT = "hrs"  # priceDimensions.unit of instance-hour prices ("Hrs")
MAX_RESULTS = 100  # GetProducts' maximum page size

# The usage part of a SageMaker usagetype, "<region prefix>-<usage>:<instance>", e.g.
# USE1-Host:ml.c5.xlarge, APS3-Train:ml.r5.4xlarge, USE1-Notebk:ml.t3.medium,
# USE1-Studio:JupyterLab-ml.r6i.4xlarge. The prefix is absent in some older us-east-1 rows.
# Batch transform (Tsform), asynchronous inference and the rest are not usages we price.
_USAGETYPE_USAGES = {
    "host": Usage.HOSTING,
    "train": Usage.TRAINING,
    "notebk": Usage.NOTEBOOK,
    "processing": Usage.PROCESSING,
    "studio": Usage.STUDIO,
}
# The `component` attribute, lower case without separators ("Studio Notebook" -> "studionotebook"):
# read when a product has no usagetype we know.
_COMPONENT_USAGES = {
    "hosting": Usage.HOSTING,
    "training": Usage.TRAINING,
    "notebook": Usage.NOTEBOOK,
    "notebookinstance": Usage.NOTEBOOK,
    "processing": Usage.PROCESSING,
    "studionotebook": Usage.STUDIO,
    "studiojupyterlab": Usage.STUDIO,
    "studiocodeeditor": Usage.STUDIO,
}
_ML_TYPE_IN_TEXT = re.compile(r"ml\.[a-z0-9][a-z0-9-]*\.[a-z0-9]+")
_MEMORY = re.compile(r"^\s*([0-9.,]+)\s*GiB\s*$", re.IGNORECASE)


class PricingClient:
    """SageMaker on-demand prices from the Price List API (a global service, asked in us-east-1).

    Takes a boto3 `pricing` client: AwsSessions.client("pricing", target) gives one.
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def sagemaker_catalogue(self, region: str) -> PriceCatalogue:
        """Prices (and the specs the Price List states) of every ML instance product in region."""
        with aws_call("pricing:GetProducts"):
            pages = self._client.get_paginator("get_products").paginate(
                ServiceCode=SERVICE_CODE,
                Filters=[
                    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": PRODUCT_FAMILY},
                    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                ],
                FormatVersion="aws_v1",
                PaginationConfig={"PageSize": MAX_RESULTS},
            )
            items = [item for page in pages for item in page.get("PriceList", [])]
        return parse_products(items, region)

    def sagemaker_prices(self, region: str) -> list[Price]:
        """On-demand hourly prices of SageMaker instance types in region, by type and usage."""
        return self.sagemaker_catalogue(region).prices()


def parse_products(items: Iterable[str | Mapping[str, Any]], region: str) -> PriceCatalogue:
    """The catalogue in GetProducts' PriceList items (JSON strings, or their parsed form).

    Items that are not an hourly on-demand price of an ML instance for a usage we price are
    skipped. When several products give the same type and usage, the highest price wins
    (and the latest date among equals), so the answer does not depend on the API's order.
    """
    prices: dict[tuple[str, Usage], Price] = {}
    specs: dict[str, InstanceSpec] = {}
    for raw in items:
        item = _load(raw)
        if item is None:
            continue
        price = parse_price(item, region)
        if price is None:
            continue
        key = (price.instance_type, price.usage)
        known = prices.get(key)
        if known is None or (price.hourly_usd, price.as_of) > (known.hourly_usd, known.as_of):
            prices[key] = price
        spec = parse_spec(item, price.instance_type)
        if spec is not None:
            specs.setdefault(spec.instance_type, spec)
    return PriceCatalogue(specs=specs.values(), prices=prices.values())


def _load(raw: str | Mapping[str, Any]) -> Mapping[str, Any] | None:
    if isinstance(raw, Mapping):
        return raw
    try:
        item = json.loads(raw, parse_float=Decimal)
    except ValueError:
        return None
    return item if isinstance(item, Mapping) else None


def parse_price(item: Mapping[str, Any], region: str) -> Price | None:
    """The hourly on-demand Price in one PriceList item, or None when it holds none we use."""
    product = item.get("product") or {}
    attributes: Mapping[str, Any] = product.get("attributes") or {}
    if product.get("productFamily") != PRODUCT_FAMILY:
        return None
    if attributes.get("regionCode", region) != region:
        return None
    instance_type = instance_type_of(attributes)
    usage = usage_of(attributes)
    terms = _on_demand_terms(item)
    hourly = _hourly_usd(terms)
    as_of = _as_of(item, terms)
    if instance_type is None or usage is None or hourly is None or as_of is None:
        return None
    return Price(
        instance_type=instance_type,
        usage=usage,
        region=region,
        hourly_usd=hourly,
        source=PRICE_LIST_SOURCE,
        as_of=as_of,
        source_detail=f"pricing:GetProducts {SERVICE_CODE}, productFamily {PRODUCT_FAMILY}, "
        f"regionCode {region}",
    )


def parse_spec(item: Mapping[str, Any], instance_type: str) -> InstanceSpec | None:
    """vCPUs, memory and GPU count as the Price List states them; None when it states neither
    vCPUs nor memory. GPU memory is left out: the attribute does not say per GPU or in total."""
    attributes: Mapping[str, Any] = (item.get("product") or {}).get("attributes") or {}
    vcpu = _whole(attributes.get("vCpu"))
    memory = _gib(attributes.get("memory"))
    if vcpu is None and memory is None:
        return None
    try:
        return InstanceSpec(
            instance_type=instance_type,
            vcpu=vcpu if vcpu else None,
            memory_gib=memory,
            gpu_count=_whole(attributes.get("gpu")) or 0,
            source=PRICE_LIST_SOURCE,
        )
    except ValueError:
        return None


def instance_type_of(attributes: Mapping[str, Any]) -> str | None:
    """The ml.* type of a product: instanceName, else instanceType, else the one in usagetype.

    instanceType is not always a plain type (e.g. "ml.g5.xlarge-hosting"), hence the order.
    """
    for name in ("instanceName", "instanceType"):
        value = str(attributes.get(name) or "").strip()
        if INSTANCE_TYPE.match(value):
            return value
    found = _ML_TYPE_IN_TEXT.search(str(attributes.get("usagetype") or ""))
    return found.group(0) if found else None


def usage_of(attributes: Mapping[str, Any]) -> Usage | None:
    """The usage a product prices: from its usagetype (what the bill says), else its component."""
    usagetype = str(attributes.get("usagetype") or "")
    if ":" in usagetype:
        head = usagetype.split(":", 1)[0]
        token = head.rsplit("-", 1)[-1].lower()  # drop the region prefix ("USE1-")
        if token in _USAGETYPE_USAGES:
            return _USAGETYPE_USAGES[token]
    component = re.sub(r"[^a-z]", "", str(attributes.get("component") or "").lower())
    return _COMPONENT_USAGES.get(component)


def _on_demand_terms(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    on_demand = (item.get("terms") or {}).get("OnDemand") or {}
    return [on_demand[code] for code in sorted(on_demand) if isinstance(on_demand[code], Mapping)]


def _hourly_usd(terms: list[Mapping[str, Any]]) -> Decimal | None:
    """The highest positive USD price per hour among the terms' price dimensions."""
    found: Decimal | None = None
    for term in terms:
        dimensions = term.get("priceDimensions") or {}
        for dimension in dimensions.values():
            if str(dimension.get("unit", "")).lower() != HOURLY_UNIT:
                continue
            try:
                usd = Decimal(str((dimension.get("pricePerUnit") or {}).get("USD")))
            except InvalidOperation:
                continue
            # 0 is how the Price List marks free-tier and included hours: not a price of the type.
            if usd.is_finite() and usd > 0 and (found is None or usd > found):
                found = usd
    return _plain(found) if found is not None else None


def _as_of(item: Mapping[str, Any], terms: list[Mapping[str, Any]]) -> date | None:
    """When the price was current: the item's publicationDate, else its term's effectiveDate."""
    candidates = [item.get("publicationDate"), *(term.get("effectiveDate") for term in terms)]
    for value in candidates:
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
            except ValueError:
                continue
    return None


def _plain(number: Decimal) -> Decimal:
    # The Price List writes "0.2040000000": keep 0.204, but never 1E+1 for 10.
    normal = number.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal


def _whole(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _gib(value: object) -> Decimal | None:
    match = _MEMORY.match(str(value or ""))
    if match is None:
        return None
    try:
        number = Decimal(match.group(1).replace(",", ""))
    except InvalidOperation:
        return None
    return _plain(number) if number > 0 else None
