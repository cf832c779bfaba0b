"""The Price List client against the embedded AWS, the embedded Price List itself, and parsing."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from mlcost.aws.pricing import PRICE_LIST_SOURCE, PricingClient, parse_products, usage_of
from mlcost.aws.session import AwsSessions
from mlcost.catalogue import load_default_catalogue, refresh_catalogue, refresh_or_keep
from mlcost.domain.catalogue import Usage
from mlcost.domain.errors import AccessDenied, InvalidSpec
from mlcost.embedded.moto_ext.pricing import OFFERS
from mlcost.embedded.server import EmbeddedAws

from .conftest import ClientFactory

PUBLISHED = date(2026, 9, 24)


@pytest.fixture
def pricing(aws_client: ClientFactory) -> Any:
    return aws_client("pricing")


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: dict[str, Any] = excinfo.value.response  # type: ignore[assignment]
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------------------- the client


@pytest.mark.parametrize(
    ("instance_type", "usage", "hourly"),
    [
        ("ml.c5.xlarge", Usage.HOSTING, "0.204"),
        ("ml.m5.xlarge", Usage.HOSTING, "0.23"),
        ("ml.m5.xlarge", Usage.TRAINING, "0.23"),
        ("ml.m5.xlarge", Usage.NOTEBOOK, "0.23"),
        ("ml.m5.xlarge", Usage.PROCESSING, "0.23"),
        ("ml.m5.xlarge", Usage.STUDIO, "0.23"),
        ("ml.g5.xlarge", Usage.HOSTING, "1.4084"),  # its instanceType is "ml.g5.xlarge-hosting"
        ("ml.t3.medium", Usage.NOTEBOOK, "0.05"),
    ],
)
def test_sagemaker_prices_of_a_region(pricing: Any, instance_type: str, usage: Usage, hourly: str) -> None:
    catalogue = PricingClient(pricing).sagemaker_catalogue("us-east-1")
    found = catalogue.price(instance_type, "us-east-1", usage)
    assert found is not None
    assert (found.hourly_usd, found.source, found.as_of) == (Decimal(hourly), PRICE_LIST_SOURCE, PUBLISHED)
    assert found.describe() == (
        f"${hourly}/h {instance_type} {usage.value} us-east-1 (source AWS Price List API, as of 2026-09-24)"
    )


def test_every_offer_of_the_region_and_nothing_else(pricing: Any) -> None:
    client = PricingClient(pricing)
    for region in ("us-east-1", "ap-south-1"):
        prices = client.sagemaker_prices(region)
        expected = {(o.instance_type, o.region, o.usd) for o in OFFERS if o.region == region}
        assert {(p.instance_type, p.region, str(p.hourly_usd)) for p in prices} == expected
    assert client.sagemaker_prices("eu-west-1") == []


def test_specs_the_price_list_states(pricing: Any) -> None:
    spec = PricingClient(pricing).sagemaker_catalogue("us-east-1").spec("ml.g5.xlarge")
    assert spec is not None
    assert (spec.vcpu, spec.memory_gib, spec.gpu_count, spec.gpu_memory_gib) == (4, Decimal(16), 1, None)


def test_one_paginated_get_products_sweep_per_region(embedded_aws: EmbeddedAws, pricing: Any) -> None:
    PricingClient(pricing).sagemaker_catalogue("us-east-1")
    assert embedded_aws.calls() == {("pricing", "GetProducts"): 1}


def test_the_request_asks_for_ml_instances_of_the_region() -> None:
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": [], "NextToken": "page-2"},
            {
                "ServiceCode": "AmazonSageMaker",
                "Filters": [
                    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
                    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
                ],
                "FormatVersion": "aws_v1",
                "MaxResults": 100,
            },
        )
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": []},
            {
                "ServiceCode": "AmazonSageMaker",
                "Filters": [
                    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
                    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
                ],
                "FormatVersion": "aws_v1",
                "MaxResults": 100,
                "NextToken": "page-2",
            },
        )
        assert PricingClient(client).sagemaker_prices("eu-west-1") == []
        stub.assert_no_pending_responses()


def test_pricing_is_asked_in_us_east_1_whatever_the_target_region(embedded_aws: EmbeddedAws) -> None:
    sessions = AwsSessions(
        default_region="eu-west-1",
        endpoint_url=embedded_aws.endpoint_url,
        max_attempts=1,
        base_session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
    )
    client = sessions.client("pricing", sessions.target("ap-south-1", None))
    assert client.meta.region_name == "us-east-1"
    prices = PricingClient(client).sagemaker_prices("ap-south-1")
    assert {p.region for p in prices} == {"ap-south-1"}


def test_access_denied_is_the_domain_error_and_the_shipped_catalogue_stays(
    embedded_aws: EmbeddedAws, pricing: Any
) -> None:
    embedded_aws.inject_error(
        "pricing",
        "GetProducts",
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/mlcost/op is not authorized to perform: "
        "pricing:GetProducts",
        count=None,
    )
    client = PricingClient(pricing)
    with pytest.raises(
        AccessDenied, match=r"pricing:GetProducts: AccessDeniedException: .*Grant the operator"
    ):
        client.sagemaker_prices("us-east-1")

    shipped = load_default_catalogue()
    outcome = refresh_or_keep(shipped, client, ["us-east-1"])
    assert not outcome.refreshed
    assert outcome.catalogue == shipped
    assert isinstance(outcome.error, AccessDenied)
    assert "keeping the catalogue in use (sources: GOE as of 2021-11-29" in outcome.message


def test_throttling_is_retried(embedded_aws: EmbeddedAws, aws_client: ClientFactory) -> None:
    embedded_aws.inject_error("pricing", "GetProducts", "ThrottlingException", count=1)
    prices = PricingClient(aws_client("pricing", attempts=3)).sagemaker_prices("us-east-1")
    assert prices
    assert embedded_aws.calls()[("pricing", "GetProducts")] == 2


def test_refresh_replaces_shipped_prices_with_the_price_lists(pricing: Any) -> None:
    shipped = load_default_catalogue()
    refreshed = refresh_catalogue(shipped, PricingClient(pricing), "us-east-1")
    notebook = refreshed.price("ml.m5.xlarge", "us-east-1", Usage.NOTEBOOK)
    assert notebook is not None
    assert notebook.source == PRICE_LIST_SOURCE
    before = shipped.price("ml.m5.xlarge", "us-east-1", Usage.NOTEBOOK)
    assert before is not None
    assert before.source == "RN"
    # prices the Price List did not give stay as shipped, with their sources
    assert refreshed.price("ml.p5.48xlarge", "us-east-1", Usage.HOSTING) == shipped.price(
        "ml.p5.48xlarge", "us-east-1", Usage.HOSTING
    )

    outcome = refresh_or_keep(shipped, PricingClient(pricing), ["us-east-1", "ap-south-1"])
    assert outcome.refreshed
    assert outcome.message == (
        "Refreshed SageMaker prices from the AWS Price List API (as of 2026-09-24): "
        "8 in ap-south-1, 21 in us-east-1."
    )


# ---------------------------------------------------------------------------- the embedded Price List


def test_get_products_pages(pricing: Any) -> None:
    seen: list[str] = []
    token, pages = None, 0
    while True:
        kwargs: dict[str, Any] = {"ServiceCode": "AmazonSageMaker", "MaxResults": 5}
        if token:
            kwargs["NextToken"] = token
        page = pricing.get_products(**kwargs)
        assert page["FormatVersion"] == "aws_v1"
        assert len(page["PriceList"]) <= 5
        seen.extend(json.loads(item)["product"]["sku"] for item in page["PriceList"])
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 6
    assert len(seen) == len(set(seen)) == len(OFFERS)


@pytest.mark.parametrize(
    ("filters", "count"),
    [
        ([], 29),
        ([{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "ap-south-1"}], 8),
        ([{"Type": "EQUALS", "Field": "instanceName", "Value": "ml.m5.xlarge"}], 8),
        ([{"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"}], 7),
        ([{"Type": "CONTAINS", "Field": "usagetype", "Value": "Train:"}], 8),
        ([{"Type": "ANY_OF", "Field": "instanceName", "Value": "ml.c5.xlarge,ml.c5.2xlarge"}], 2),
        ([{"Type": "NONE_OF", "Field": "regionCode", "Value": "us-east-1"}], 8),
        ([{"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Storage"}], 0),
        ([{"Type": "TERM_MATCH", "Field": "ServiceCode", "Value": "AmazonSageMaker"}], 29),
        (
            [
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
                {"Type": "TERM_MATCH", "Field": "instanceName", "Value": "ml.g5.xlarge"},
            ],
            3,
        ),
    ],
)
def test_get_products_filters(pricing: Any, filters: list[dict[str, str]], count: int) -> None:
    found = pricing.get_products(ServiceCode="AmazonSageMaker", Filters=filters, MaxResults=100)
    assert len(found["PriceList"]) == count


def test_a_product_follows_the_price_list_format(pricing: Any) -> None:
    found = pricing.get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[{"Type": "TERM_MATCH", "Field": "usagetype", "Value": "USE1-Host:ml.c5.xlarge"}],
    )
    (item,) = (json.loads(text) for text in found["PriceList"])
    assert item["serviceCode"] == "AmazonSageMaker"
    assert item["publicationDate"] == "2026-09-24T23:59:00Z"
    attributes = item["product"]["attributes"]
    assert item["product"]["productFamily"] == "ML Instance"
    assert (attributes["instanceName"], attributes["component"], attributes["regionCode"]) == (
        "ml.c5.xlarge",
        "Hosting",
        "us-east-1",
    )
    (term,) = item["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    assert (dimension["unit"], dimension["pricePerUnit"]) == ("Hrs", {"USD": "0.2040000000"})


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"ServiceCode": "AmazonEC2"}, "NotFoundException"),
        ({"ServiceCode": "AmazonSageMaker", "NextToken": "not-a-token"}, "InvalidNextTokenException"),
        (
            {"ServiceCode": "AmazonSageMaker", "Filters": [{"Type": "REGEX", "Field": "x", "Value": "y"}]},
            "InvalidParameterException",
        ),
        ({"ServiceCode": "AmazonSageMaker", "FormatVersion": "aws_v2"}, "InvalidParameterException"),
    ],
)
def test_get_products_rejects(pricing: Any, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as caught:
        pricing.get_products(**kwargs)
    assert error_of(caught) == (code, 400)


def test_a_token_of_another_query_is_refused(pricing: Any) -> None:
    token = pricing.get_products(ServiceCode="AmazonSageMaker", MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as caught:
        pricing.get_products(
            ServiceCode="AmazonSageMaker",
            Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}],
            NextToken=token,
            MaxResults=1,
        )
    assert error_of(caught)[0] == "InvalidNextTokenException"


def test_describe_services(pricing: Any) -> None:
    (service,) = pricing.describe_services(ServiceCode="AmazonSageMaker")["Services"]
    assert service["ServiceCode"] == "AmazonSageMaker"
    assert {"instanceName", "component", "usagetype", "regionCode", "vCpu", "memory"} <= set(
        service["AttributeNames"]
    )


def test_unimplemented_pricing_operations_answer_501(embedded_aws: EmbeddedAws, pricing: Any) -> None:
    with pytest.raises(ClientError) as caught:
        pricing.get_attribute_values(ServiceCode="AmazonSageMaker", AttributeName="instanceName")
    assert error_of(caught) == ("InternalFailure", 501)
    assert embedded_aws.calls()[("pricing", "GetAttributeValues")] == 1


def test_other_services_still_reach_moto(aws_client: ClientFactory) -> None:
    sts = aws_client("sts")
    assert sts.get_caller_identity()["Account"] == "123456789012"


def test_a_price_list_failure_is_mapped_like_every_aws_error(embedded_aws: EmbeddedAws, pricing: Any) -> None:
    embedded_aws.inject_error("pricing", "GetProducts", "InvalidParameterException", "bad filter")
    with pytest.raises(InvalidSpec, match="pricing:GetProducts: InvalidParameterException: bad filter"):
        PricingClient(pricing).sagemaker_prices("us-east-1")


# ---------------------------------------------------------------------------- parsing


def item(
    *,
    instance_name: str | None = "ml.c5.xlarge",
    instance_type: str | None = None,
    usagetype: str | None = "USE1-Host:ml.c5.xlarge",
    component: str | None = "Hosting",
    region: str | None = "us-east-1",
    family: str = "ML Instance",
    usd: str = "0.2040000000",
    unit: str = "Hrs",
    published: str | None = "2026-09-24T23:59:00Z",
    effective: str = "2026-09-01T00:00:00Z",
) -> dict[str, Any]:
    attributes = {
        "instanceName": instance_name,
        "instanceType": instance_type,
        "usagetype": usagetype,
        "component": component,
        "regionCode": region,
        "vCpu": "4",
        "memory": "8 GiB",
    }
    found: dict[str, Any] = {
        "product": {"productFamily": family, "attributes": {k: v for k, v in attributes.items() if v}},
        "terms": {
            "OnDemand": {
                "SKU.JRTCKXETXF": {
                    "priceDimensions": {
                        "SKU.JRTCKXETXF.6YS6EN2CT7": {"unit": unit, "pricePerUnit": {"USD": usd}}
                    },
                    "effectiveDate": effective,
                }
            }
        },
    }
    if published:
        found["publicationDate"] = published
    return found


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (item(), ("ml.c5.xlarge", Usage.HOSTING, "0.204", date(2026, 9, 24))),
        (item(published=None), ("ml.c5.xlarge", Usage.HOSTING, "0.204", date(2026, 9, 1))),
        (item(usd="10.0000000000"), ("ml.c5.xlarge", Usage.HOSTING, "10", date(2026, 9, 24))),
        # instanceType with a suffix and no instanceName: the type is read from usagetype
        (
            item(
                instance_name=None, instance_type="ml.g5.xlarge-hosting", usagetype="USE1-Host:ml.g5.xlarge"
            ),
            ("ml.g5.xlarge", Usage.HOSTING, "0.204", date(2026, 9, 24)),
        ),
        # usagetype without a region prefix (older us-east-1 rows)
        (
            item(usagetype="Train:ml.c5.xlarge", component=None),
            ("ml.c5.xlarge", Usage.TRAINING, "0.204", date(2026, 9, 24)),
        ),
        (
            item(usagetype="USE1-Studio:JupyterLab-ml.c5.xlarge", component="studio-jupyterlab"),
            ("ml.c5.xlarge", Usage.STUDIO, "0.204", date(2026, 9, 24)),
        ),
        (
            item(usagetype="APS3-Notebk:ml.c5.xlarge", component="Notebook"),
            ("ml.c5.xlarge", Usage.NOTEBOOK, "0.204", date(2026, 9, 24)),
        ),
        # no usagetype: the component decides
        (
            item(usagetype=None, component="Processing"),
            ("ml.c5.xlarge", Usage.PROCESSING, "0.204", date(2026, 9, 24)),
        ),
        (
            item(usagetype=None, component="Studio Notebook"),
            ("ml.c5.xlarge", Usage.STUDIO, "0.204", date(2026, 9, 24)),
        ),
        (json.dumps(item()), ("ml.c5.xlarge", Usage.HOSTING, "0.204", date(2026, 9, 24))),
    ],
)
def test_parse_products(raw: Any, expected: tuple[str, Usage, str, date]) -> None:
    (price,) = parse_products([raw], "us-east-1").prices()
    assert (price.instance_type, price.usage, str(price.hourly_usd), price.as_of) == expected
    assert price.region == "us-east-1"


@pytest.mark.parametrize(
    "raw",
    [
        item(usd="0.0000000000"),  # free tier / included hours are not the type's price
        item(unit="GB-Mo"),
        item(usd="n/a"),
        item(family="ML Storage"),
        item(region="eu-west-1"),  # not the region asked for
        item(usagetype="USE1-Tsform:ml.c5.xlarge", component="Batch Transform"),
        item(usagetype=None, component="Asynchronous Inference"),
        item(instance_name=None, instance_type="ml.c5.xlarge-x", usagetype="USE1-Host:"),
        item(published=None, effective="soon"),
        "{not json",
        "[]",
    ],
)
def test_parse_products_skips_what_is_not_an_hourly_price(raw: Any) -> None:
    assert parse_products([raw], "us-east-1").prices() == []


def test_parse_products_is_independent_of_order() -> None:
    low, high = item(usd="0.2"), item(usd="0.25")
    first = parse_products([low, high], "us-east-1").prices()
    second = parse_products([high, low], "us-east-1").prices()
    assert first == second
    assert [p.hourly_usd for p in first] == [Decimal("0.25")]


@pytest.mark.parametrize(
    ("attributes", "usage"),
    [
        ({"usagetype": "USE1-Host:ml.c5.xlarge", "component": "Training"}, Usage.HOSTING),  # the bill wins
        ({"usagetype": "EU-Processing:ml.c5.xlarge"}, Usage.PROCESSING),
        ({"component": "notebook-instance"}, Usage.NOTEBOOK),
        ({"component": "Studio-CodeEditor"}, Usage.STUDIO),
        ({"usagetype": "USE1-Train-Spot:ml.c5.xlarge"}, None),
        ({}, None),
    ],
)
def test_usage_of(attributes: dict[str, str], usage: Usage | None) -> None:
    assert usage_of(cast(dict[str, Any], attributes)) is usage
