"""AWS Price List API for moto, which has none: GetProducts and DescribeServices for SageMaker.

moto has no pricing backend, so its dispatcher cannot route these requests. install() routes
every request signed for `pricing` (or targeted at AWSPriceListService) to a small Flask app
whose handler is a moto BaseResponse, so the dispatch hooks count the calls and inject
errors as for any other service. Operations other than the two below answer 501.

The products follow the API reference's PriceList format (aws_v1): one JSON string per
product with `product` (productFamily, attributes, sku), `terms.OnDemand` (priceDimensions
with unit and pricePerUnit.USD, effectiveDate), `serviceCode`, `version` and
`publicationDate`. The prices are the shipped catalogue's (mlcost/data): RN rows, which come
from AWS's bulk price file published 2026-09-24, FMB rows for hosting, and single Price List
quotes (PLQ) for ml.m5.large / ml.m5.2xlarge / ml.g5.2xlarge. They are here to
exercise the client, not to be quoted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Flask
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.core.utils import convert_to_flask_response
from moto.moto_server.werkzeug_app import BackendRequest, DomainDispatcherApplication

from ._common import original, patch, register_operations

__all__ = ["PRODUCTS", "PricingResponse", "install", "price_list"]

SERVICE_CODE = "AmazonSageMaker"
FORMAT_VERSION = "aws_v1"
MAX_RESULTS = 100
MAX_FILTERS = 50
TARGET_PREFIX = "AWSPriceListService."
PUBLICATION_DATE = "2026-09-24T23:59:00Z"
EFFECTIVE_DATE = "2026-09-01T00:00:00Z"
ON_DEMAND_TERM = "JRTCKXETXF"  # the Price List's offer term code of on-demand terms
RATE_CODE = "6YS6EN2CT7"  # the Price List's rate code of a single price dimension

_LOCATIONS = {
    "us-east-1": ("US East (N. Virginia)", "USE1"),
    "ap-south-1": ("Asia Pacific (Mumbai)", "APS3"),
}
# usagetype usage part -> component attribute, as the bulk price file pairs them.
_COMPONENTS = {
    "Host": "Hosting",
    "Train": "Training",
    "Notebk": "Notebook",
    "Processing": "Processing",
    "Studio": "studio-jupyterlab",
}
# vCPU, memory (GiB), GPUs of each type offered here (the shipped catalogue's specs).
_SPECS = {
    "ml.t3.medium": (2, 4, 0),
    "ml.m5.large": (2, 8, 0),
    "ml.m5.xlarge": (4, 16, 0),
    "ml.m5.2xlarge": (8, 32, 0),
    "ml.m5.4xlarge": (16, 64, 0),
    "ml.c5.xlarge": (4, 8, 0),
    "ml.c5.2xlarge": (8, 16, 0),
    "ml.g4dn.xlarge": (4, 16, 1),
    "ml.g5.xlarge": (4, 16, 1),
    "ml.g5.2xlarge": (8, 32, 1),
}


@dataclass(frozen=True)
class Offer:
    """One SageMaker ML instance product: a type's hourly price for one usage in one region."""

    region: str
    instance_type: str
    usage: str  # the usagetype's usage part: Host, Train, Notebk, Processing, Studio
    usd: str
    # Some live products carry a suffixed instanceType ("ml.g5.xlarge-hosting"); clients
    # must read instanceName first.
    instance_type_attribute: str | None = None


OFFERS = (
    # us-east-1: hosting from FMB, the rest from RN (AWS bulk price file, 2026-09-24).
    Offer("us-east-1", "ml.c5.xlarge", "Host", "0.204"),
    Offer("us-east-1", "ml.c5.2xlarge", "Host", "0.408"),
    Offer("us-east-1", "ml.m5.xlarge", "Host", "0.23"),
    Offer("us-east-1", "ml.m5.xlarge", "Train", "0.23"),
    Offer("us-east-1", "ml.m5.xlarge", "Notebk", "0.23"),
    Offer("us-east-1", "ml.m5.xlarge", "Processing", "0.23"),
    Offer("us-east-1", "ml.m5.xlarge", "Studio", "0.23"),
    Offer("us-east-1", "ml.m5.4xlarge", "Train", "0.922"),
    # us-east-1, from single Price List quotes (PLQ1, PLQ3, PLQ4, PLQ5 in mlcost/data/README.md).
    Offer("us-east-1", "ml.m5.2xlarge", "Host", "0.461"),
    Offer("us-east-1", "ml.m5.large", "Host", "0.115"),
    Offer("us-east-1", "ml.m5.large", "Train", "0.115"),
    Offer("us-east-1", "ml.m5.large", "Processing", "0.115"),
    Offer("us-east-1", "ml.g5.2xlarge", "Train", "1.515"),
    Offer("us-east-1", "ml.t3.medium", "Notebk", "0.05"),
    Offer("us-east-1", "ml.t3.medium", "Processing", "0.05"),
    Offer("us-east-1", "ml.t3.medium", "Studio", "0.05"),
    Offer("us-east-1", "ml.g4dn.xlarge", "Host", "0.7364"),
    Offer("us-east-1", "ml.g4dn.xlarge", "Train", "0.736"),
    Offer("us-east-1", "ml.g5.xlarge", "Host", "1.4084", "ml.g5.xlarge-hosting"),
    Offer("us-east-1", "ml.g5.xlarge", "Train", "1.408"),
    Offer("us-east-1", "ml.g5.xlarge", "Notebk", "1.41"),
    # ap-south-1 (Mumbai): RN.
    Offer("ap-south-1", "ml.t3.medium", "Notebk", "0.054"),
    Offer("ap-south-1", "ml.t3.medium", "Processing", "0.054"),
    Offer("ap-south-1", "ml.m5.xlarge", "Train", "0.242"),
    Offer("ap-south-1", "ml.m5.xlarge", "Notebk", "0.242"),
    Offer("ap-south-1", "ml.m5.xlarge", "Processing", "0.242"),
    Offer("ap-south-1", "ml.g5.xlarge", "Train", "1.69"),
    Offer("ap-south-1", "ml.g5.xlarge", "Notebk", "1.69"),
    Offer("ap-south-1", "ml.g5.xlarge", "Processing", "1.691"),
)


def _sku(usagetype: str) -> str:
    # SKUs are opaque 16-character codes; derive them so they are stable across runs.
    digest = hashlib.sha256(usagetype.encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def _product(offer: Offer) -> dict[str, Any]:
    """The aws_v1 PriceList document of one offer."""
    location, prefix = _LOCATIONS[offer.region]
    suffix = f"JupyterLab-{offer.instance_type}" if offer.usage == "Studio" else offer.instance_type
    usagetype = f"{prefix}-{offer.usage}:{suffix}"
    component = _COMPONENTS[offer.usage]
    vcpu, memory, gpus = _SPECS[offer.instance_type]
    sku = _sku(usagetype)
    term = f"{sku}.{ON_DEMAND_TERM}"
    return {
        "product": {
            "productFamily": "ML Instance",
            "attributes": {
                "servicecode": SERVICE_CODE,
                "servicename": "Amazon SageMaker",
                "location": location,
                "locationType": "AWS Region",
                "regionCode": offer.region,
                "usagetype": usagetype,
                "operation": "RunInstance",
                "component": component,
                "instanceName": offer.instance_type,
                "instanceType": offer.instance_type_attribute or offer.instance_type,
                "vCpu": str(vcpu),
                "memory": f"{memory} GiB",
                "gpu": str(gpus),
                "currentGeneration": "Yes",
            },
            "sku": sku,
        },
        "serviceCode": SERVICE_CODE,
        "terms": {
            "OnDemand": {
                term: {
                    "priceDimensions": {
                        f"{term}.{RATE_CODE}": {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": f"${offer.usd} per {component} {offer.instance_type} "
                            f"instance hour in {location}",
                            "appliesTo": [],
                            "rateCode": f"{term}.{RATE_CODE}",
                            "beginRange": "0",
                            "pricePerUnit": {"USD": f"{Decimal(offer.usd):.10f}"},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": EFFECTIVE_DATE,
                    "offerTermCode": ON_DEMAND_TERM,
                    "termAttributes": {},
                }
            }
        },
        "version": PUBLICATION_DATE.replace("-", "").replace(":", "").replace("T", "").rstrip("Z"),
        "publicationDate": PUBLICATION_DATE,
    }


PRODUCTS: tuple[dict[str, Any], ...] = tuple(_product(offer) for offer in OFFERS)


def price_list() -> list[str]:
    """Every product as GetProducts returns it: one JSON string each."""
    return [json.dumps(product) for product in PRODUCTS]


# ---------------------------------------------------------------------------- filtering


def _fields(product: dict[str, Any]) -> dict[str, str]:
    # Filters name the service code, productFamily or any attribute.
    return {
        "ServiceCode": product["serviceCode"],
        "productFamily": product["product"]["productFamily"],
        **product["product"]["attributes"],
    }


def _matches(filter_: dict[str, Any], fields: dict[str, str]) -> bool:
    kind = filter_.get("Type")
    value = str(filter_.get("Value", ""))
    have = fields.get(str(filter_.get("Field", "")))
    if kind in ("TERM_MATCH", "EQUALS"):
        return have == value
    if kind == "CONTAINS":
        return have is not None and value in have
    listed = {part.strip() for part in value.split(",")}
    if kind == "ANY_OF":
        return have in listed
    return have not in listed  # NONE_OF


def _invalid(message: str) -> JsonRESTError:
    return JsonRESTError("InvalidParameterException", message)


def _check(params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    filters = params.get("Filters") or []
    if len(filters) > MAX_FILTERS:
        raise _invalid(f"Filters: at most {MAX_FILTERS} filters, got {len(filters)}")
    for filter_ in filters:
        if filter_.get("Type") not in ("TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF"):
            raise _invalid(
                f"Filter Type {filter_.get('Type')!r} is not one of TERM_MATCH, EQUALS, "
                "CONTAINS, ANY_OF, NONE_OF"
            )
        if not filter_.get("Field") or "Value" not in filter_:
            raise _invalid("Each filter needs a Field and a Value")
    limit = params.get("MaxResults", MAX_RESULTS)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise _invalid(f"MaxResults must be between 1 and {MAX_RESULTS}, got {limit!r}")
    format_version = params.get("FormatVersion", FORMAT_VERSION)
    if format_version != FORMAT_VERSION:
        raise _invalid(f"FormatVersion {format_version!r} is not supported; use {FORMAT_VERSION}")
    return filters, limit


def _query_digest(params: dict[str, Any]) -> str:
    query = json.dumps([params.get("ServiceCode"), params.get("Filters") or []], sort_keys=True)
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def _next_token(offset: int, params: dict[str, Any]) -> str:
    raw = json.dumps({"offset": offset, "query": _query_digest(params)})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _offset(params: dict[str, Any]) -> int:
    token = params.get("NextToken")
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = int(decoded["offset"])
        same_query = decoded["query"] == _query_digest(params)
    except (ValueError, KeyError, TypeError):
        same_query, offset = False, 0
    if not same_query or offset < 0:
        raise JsonRESTError(
            "InvalidNextTokenException", "The pagination token is invalid. Try again without it."
        )
    return offset


# ---------------------------------------------------------------------------- operations


def get_products(params: dict[str, Any]) -> dict[str, Any]:
    """GetProducts: the products matching every filter, MaxResults at a time."""
    service_code = params.get("ServiceCode")
    if not service_code:
        raise _invalid("ServiceCode is required")
    filters, limit = _check(params)
    if service_code != SERVICE_CODE:
        raise JsonRESTError(
            "NotFoundException",
            f"Service code {service_code} is not known to the embedded AWS; it serves only {SERVICE_CODE}.",
        )
    found = [product for product in PRODUCTS if all(_matches(f, _fields(product)) for f in filters)]
    offset = _offset(params)
    page = found[offset : offset + limit]
    result: dict[str, Any] = {
        "FormatVersion": FORMAT_VERSION,
        "PriceList": [json.dumps(product) for product in page],
    }
    if offset + limit < len(found):
        result["NextToken"] = _next_token(offset + limit, params)
    return result


def describe_services(params: dict[str, Any]) -> dict[str, Any]:
    """DescribeServices: the one service served here and its attribute names."""
    service_code = params.get("ServiceCode")
    if service_code not in (None, "", SERVICE_CODE):
        raise JsonRESTError("NotFoundException", f"Service code {service_code} was not found.")
    names = sorted({name for product in PRODUCTS for name in product["product"]["attributes"]})
    return {
        "Services": [{"ServiceCode": SERVICE_CODE, "AttributeNames": names}],
        "FormatVersion": FORMAT_VERSION,
    }


class PricingResponse(BaseResponse):
    """Handler of the Price List API's JSON requests (X-Amz-Target AWSPriceListService.*)."""

    def __init__(self) -> None:
        super().__init__(service_name="pricing")

    def _params(self) -> dict[str, Any]:
        params = json.loads(self.body or "{}")
        if not isinstance(params, dict):
            raise _invalid("The request body must be a JSON object")
        return params

    def get_products(self) -> str:
        return json.dumps(get_products(self._params()))

    def describe_services(self) -> str:
        return json.dumps(describe_services(self._params()))


# ---------------------------------------------------------------------------- routing

_app_lock = threading.Lock()
_apps: dict[str, Flask] = {}


def _pricing_app() -> Flask:
    """The Flask app serving pricing requests, built once (like moto's per-service apps)."""
    with _app_lock:
        if "pricing" not in _apps:
            app = Flask("mlcost-pricing")
            # moto's handlers expect its normalized request class.
            app.request_class = BackendRequest
            app.add_url_rule(
                "/",
                endpoint="PricingResponse.dispatch",
                view_func=convert_to_flask_response(PricingResponse.dispatch),
                methods=["POST"],
                strict_slashes=False,
            )
            _apps["pricing"] = app
        return _apps["pricing"]


def is_pricing_request(environ: dict[str, Any]) -> bool:
    """Whether a request is for the Price List API: its target or its SigV4 signing name."""
    if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(TARGET_PREFIX):
        return True
    return "/pricing/aws4_request" in str(environ.get("HTTP_AUTHORIZATION", ""))


def _get_application(self: DomainDispatcherApplication, environ: dict[str, Any]) -> Any:
    if is_pricing_request(environ):
        return _pricing_app()
    moto_get_application: Callable[..., Any] = original(DomainDispatcherApplication, "get_application")
    return moto_get_application(self, environ)


def install() -> None:
    """Route Price List requests to PricingResponse (moto would find no backend for them)."""
    register_operations("pricing", "GetProducts", "DescribeServices")
    patch(DomainDispatcherApplication, "get_application", _get_application)
