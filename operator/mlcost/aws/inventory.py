"""Read an account's SageMaker endpoints, notebook instances and training jobs, with tags, in few calls.

Calls per read of one account and region, with E endpoints, N notebook instances and T
training jobs in the lookback (pages of 100):

    Search(Endpoint)          ceil(E/100)   names, status, config name, live variant counts, tags
    DescribeEndpointConfig    one per config not seen before, or whose endpoint changed since:
                              instance types, and the endpoint's kind (AsyncInferenceConfig,
                              ServerlessConfig, variants without ModelName for inference
                              components), which only the config holds
    ListNotebookInstances     ceil(N/100)   everything the rules need except tags
    GetResources (tagging)    ceil(N/100)   notebook tags (only tagged notebooks are returned)
    Search(TrainingJob)       ceil(T/100)   full jobs with tags: type, spot, runtimes, billable time

ListEndpoints and ListTrainingJobs return neither tags, instance types nor training settings,
so they would need a Describe and a ListTags per resource; Search returns complete records
with tags, 100 per call. Search cannot return notebook instances, and ListNotebookInstances
has all but the tags, which the Resource Groups Tagging API returns 100 at a time.

Search reads an index that AWS updates moments after a change, so a resource created in the
last seconds may only appear in the next read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from mlcost.api.v1alpha1.mlcostpolicy import ResourceType
from mlcost.aws.errors import aws_call, error_code
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain.errors import MlcostError
from mlcost.domain.inventory import Inventory, SageMakerResource, Variant, endpoint_kind

PAGE_SIZE = 100
# Jobs that have not finished are read whatever their age.
UNFINISHED_TRAINING_STATUSES = ("InProgress", "Stopping")
NOTEBOOK_TAG_TYPE = "sagemaker:notebook-instance"


@dataclass(frozen=True)
class _ConfigVariant:
    instance_type: str | None
    initial_count: int
    serverless: bool
    # Instance-backed with no ModelName: it hosts inference components (CreateInferenceComponent
    # places the models on it), which publish their own metrics.
    inference_components: bool


@dataclass(frozen=True)
class _EndpointConfig:
    """What an endpoint config says of its variants; `found` is False once it was deleted."""

    variants: Mapping[str, _ConfigVariant]
    found: bool
    # AsyncInferenceConfig is set: requests are queued and the endpoint publishes no Invocations.
    # Only the config says so: Search's Endpoint record has no AsyncInferenceConfig.
    asynchronous: bool
    # The newest LastModifiedTime of an endpoint using the config when it was described. A
    # config is immutable, but a name can be deleted and re-created; an endpoint only moves
    # to it with UpdateEndpoint, which changes the endpoint's LastModifiedTime.
    seen_modified: datetime


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _optional_utc(moment: datetime | None) -> datetime | None:
    return _utc(moment) if moment is not None else None


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw or []}


def _search_time(moment: datetime) -> str:
    # Search compares timestamps given as YYYY-mm-ddTHH:MM:SS in UTC.
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S")


class InventoryReader:
    """Reads one account and region's SageMaker inventory per call of read().

    Keeps, per target, the endpoint configs it has described, so that a read in a steady
    account describes nothing; configs no endpoint uses any more are dropped at each read.
    Training jobs are those created within `training_lookback` of `now` plus every job not
    finished yet (InProgress, Stopping), whatever its age.
    """

    def __init__(self, sessions: AwsSessions, *, training_lookback: timedelta = timedelta(days=30)) -> None:
        self._sessions = sessions
        self.training_lookback = training_lookback
        self._configs: dict[AwsTarget, dict[str, _EndpointConfig]] = {}

    def read(self, target: AwsTarget, now: datetime) -> Inventory:
        """Everything SageMaker holds in the target's account and region that the rules read."""
        account_id = self._sessions.account_id(target)
        sagemaker = self._sessions.client("sagemaker", target)
        tagging = self._sessions.client("resourcegroupstaggingapi", target)
        resources = [
            *self._endpoints(target, sagemaker),
            *self._notebooks(sagemaker, tagging),
            *self._training_jobs(sagemaker, now),
        ]
        return Inventory(account_id=account_id, region=target.region, read_at=now, resources=tuple(resources))

    # ------------------------------------------------------------------------ endpoints

    def _endpoints(self, target: AwsTarget, sagemaker: Any) -> list[SageMakerResource]:
        records = list(_search(sagemaker, "Endpoint"))
        cached = self._configs.get(target, {})
        newest: dict[str, datetime] = {}
        for record in records:
            name = record.get("EndpointConfigName")
            if name:
                modified = _utc(record["LastModifiedTime"])
                newest[name] = max(modified, newest.get(name, modified))
        configs: dict[str, _EndpointConfig] = {}
        try:
            for name, modified in newest.items():
                entry = cached.get(name)
                if entry is None or modified > entry.seen_modified:
                    entry = _describe_config(sagemaker, name, modified)
                configs[name] = entry
        except MlcostError:
            # Keep what this read described: after throttling, the next read resumes where
            # this one stopped instead of describing a large account from the start again.
            self._configs[target] = {**cached, **configs}
            raise
        # Only configs of listed endpoints stay: the cache never outgrows the account.
        self._configs[target] = configs
        return [_endpoint(record, configs.get(record.get("EndpointConfigName") or "")) for record in records]

    # ------------------------------------------------------------------------ notebooks

    def _notebooks(self, sagemaker: Any, tagging: Any) -> list[SageMakerResource]:
        summaries: list[dict[str, Any]] = []
        request: dict[str, Any] = {"MaxResults": PAGE_SIZE}
        while True:
            with aws_call("sagemaker:ListNotebookInstances"):
                page = sagemaker.list_notebook_instances(**request)
            summaries.extend(page.get("NotebookInstances", []))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        tags = _tags_by_arn(tagging, NOTEBOOK_TAG_TYPE) if summaries else {}
        return [_notebook(s, tags.get(s["NotebookInstanceArn"].lower(), {})) for s in summaries]

    # ------------------------------------------------------------------------ training jobs

    def _training_jobs(self, sagemaker: Any, now: datetime) -> list[SageMakerResource]:
        since = _search_time(now - self.training_lookback)
        expression = {
            "Filters": [
                {"Name": "CreationTime", "Operator": "GreaterThanOrEqualTo", "Value": since},
                *(
                    {"Name": "TrainingJobStatus", "Operator": "Equals", "Value": status}
                    for status in UNFINISHED_TRAINING_STATUSES
                ),
            ],
            "Operator": "Or",
        }
        return [_training_job(record) for record in _search(sagemaker, "TrainingJob", expression)]


def _search(
    sagemaker: Any, resource: str, expression: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Every record Search finds, once each (by ARN), 100 per call."""
    # Sorted by creation, which never changes, so that paging is not disturbed by resources
    # modified meanwhile; one created meanwhile lands on the last page.
    request: dict[str, Any] = {
        "Resource": resource,
        "MaxResults": PAGE_SIZE,
        "SortBy": "CreationTime",
        "SortOrder": "Ascending",
    }
    if expression is not None:
        request["SearchExpression"] = expression
    arn_key = f"{resource}Arn"
    seen: set[str] = set()
    while True:
        with aws_call("sagemaker:Search"):
            page = sagemaker.search(**request)
        for result in page.get("Results", []):
            record = result.get(resource)
            if record and record[arn_key] not in seen:
                seen.add(record[arn_key])
                yield record
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def _tags_by_arn(tagging: Any, resource_type: str) -> dict[str, dict[str, str]]:
    """Tags of every tagged resource of one type, by lower-cased ARN.

    Lower-cased because SageMaker writes resource names in ARNs in lower case while List calls
    may not; keyed by ARN, so malformed ARNs (moto answers some as a tuple's repr) never match.
    """
    found: dict[str, dict[str, str]] = {}
    # TagsPerPage at its maximum so that a page is bounded by ResourcesPerPage, not by tags
    # (moto caps a page at 100 tags when it is not given).
    request: dict[str, Any] = {
        "ResourceTypeFilters": [resource_type],
        "ResourcesPerPage": PAGE_SIZE,
        "TagsPerPage": 500,
    }
    while True:
        with aws_call("tag:GetResources"):
            page = tagging.get_resources(**request)
        for mapping in page.get("ResourceTagMappingList", []):
            found[mapping["ResourceARN"].lower()] = _tags(mapping.get("Tags"))
        if not page.get("PaginationToken"):
            return found
        request["PaginationToken"] = page["PaginationToken"]


def _describe_config(sagemaker: Any, name: str, seen_modified: datetime) -> _EndpointConfig:
    with aws_call("sagemaker:DescribeEndpointConfig"):
        try:
            raw = sagemaker.describe_endpoint_config(EndpointConfigName=name)
        except ClientError as exc:
            # A config can be deleted while endpoints still run on it; SageMaker then says
            # ValidationException "Could not find endpoint configuration".
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if error_code(exc) == "ValidationException" and "Could not find" in message:
                return _EndpointConfig(
                    variants={}, found=False, asynchronous=False, seen_modified=seen_modified
                )
            raise
    variants = {
        v["VariantName"]: _ConfigVariant(
            instance_type=v.get("InstanceType"),
            initial_count=int(v.get("InitialInstanceCount") or 0),
            serverless="ServerlessConfig" in v,
            inference_components="ServerlessConfig" not in v and not v.get("ModelName"),
        )
        for v in [*raw.get("ProductionVariants", []), *raw.get("ShadowProductionVariants", [])]
    }
    return _EndpointConfig(
        variants=variants,
        found=True,
        asynchronous=bool(raw.get("AsyncInferenceConfig")),
        seen_modified=seen_modified,
    )


def _variants(record: dict[str, Any], config: _EndpointConfig | None) -> tuple[Variant, ...]:
    """Live variants (counts change with autoscaling) with the instance type of their config;
    the config's own variants while the endpoint has none yet (Creating, Failed)."""
    known = config.variants if config else {}
    live = [*record.get("ProductionVariants", []), *record.get("ShadowProductionVariants", [])]
    if not live:
        return tuple(
            Variant(
                name,
                v.instance_type,
                0 if v.serverless else v.initial_count,
                v.serverless,
                v.inference_components,
            )
            for name, v in known.items()
        )
    variants = []
    for summary in live:
        name = summary["VariantName"]
        from_config = known.get(name)
        serverless = (from_config.serverless if from_config else False) or (
            "CurrentServerlessConfig" in summary or "DesiredServerlessConfig" in summary
        )
        count = summary.get("CurrentInstanceCount", summary.get("DesiredInstanceCount"))
        if count is None:
            count = from_config.initial_count if from_config else 0
        variants.append(
            Variant(
                name=name,
                instance_type=None if serverless or not from_config else from_config.instance_type,
                instance_count=0 if serverless else int(count),
                serverless=serverless,
                inference_components=bool(from_config and from_config.inference_components),
            )
        )
    return tuple(variants)


def _endpoint(record: dict[str, Any], config: _EndpointConfig | None) -> SageMakerResource:
    """An endpoint; its instance_type is its first instance-backed variant's, its
    instance_count the instances of all variants, its kind that of its config (None when the
    config is gone)."""
    variants = _variants(record, config)
    kind = endpoint_kind(config.asynchronous, variants) if config and config.found else None
    typed = [v for v in variants if v.instance_type]
    return SageMakerResource(
        type=ResourceType.ENDPOINT,
        name=record["EndpointName"],
        arn=record["EndpointArn"],
        status=record["EndpointStatus"],
        tags=_tags(record.get("Tags")),
        instance_type=typed[0].instance_type if typed else None,
        instance_count=sum(v.instance_count for v in variants),
        created=_utc(record["CreationTime"]),
        started=_utc(record["CreationTime"]),
        endpoint_config=record.get("EndpointConfigName"),
        variants=variants,
        endpoint_kind=kind,
    )


def _notebook(summary: dict[str, Any], tags: dict[str, str]) -> SageMakerResource:
    status = summary["NotebookInstanceStatus"]
    return SageMakerResource(
        type=ResourceType.NOTEBOOK_INSTANCE,
        name=summary["NotebookInstanceName"],
        arn=summary["NotebookInstanceArn"],
        status=status,
        tags=tags,
        instance_type=summary.get("InstanceType"),
        created=_optional_utc(summary.get("CreationTime")),
        # Starting a notebook is its last modification while it runs.
        started=_optional_utc(summary.get("LastModifiedTime")) if status == "InService" else None,
    )


def _training_job(record: dict[str, Any]) -> SageMakerResource:
    resources = record.get("ResourceConfig") or {}
    # Heterogeneous clusters name their instances in InstanceGroups instead.
    groups = resources.get("InstanceGroups") or []
    instance_type = resources.get("InstanceType") or (groups[0]["InstanceType"] if groups else None)
    count = resources.get("InstanceCount") or sum(int(g.get("InstanceCount", 0)) for g in groups) or 1
    stopping = record.get("StoppingCondition") or {}
    return SageMakerResource(
        type=ResourceType.TRAINING_JOB,
        name=record["TrainingJobName"],
        arn=record["TrainingJobArn"],
        status=record["TrainingJobStatus"],
        tags=_tags(record.get("Tags")),
        instance_type=instance_type,
        instance_count=int(count),
        created=_optional_utc(record.get("CreationTime")),
        started=_optional_utc(record.get("TrainingStartTime")),
        managed_spot=bool(record.get("EnableManagedSpotTraining", False)),
        max_runtime_seconds=stopping.get("MaxRuntimeInSeconds"),
        training_seconds=record.get("TrainingTimeInSeconds"),
        billable_seconds=record.get("BillableTimeInSeconds"),
    )
