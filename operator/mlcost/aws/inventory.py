"""Read an account's SageMaker endpoints, notebook instances and training jobs, with tags, in few calls.

Calls per read of one account and region, with E endpoints, N notebook instances and T
training jobs in the lookback (pages of 100):

    Search(Endpoint)          ceil(E/100)   names, status, config name, live variant counts, tags
    DescribeEndpointConfig    only when a rule needs it (endpoint_configs=True): one per config
                              not seen before, or whose endpoint changed since: instance types,
                              and the endpoint's kind (AsyncInferenceConfig, ServerlessConfig,
                              variants without ModelName for inference components), which only
                              the config holds; several at once, at a bounded rate
    ListNotebookInstances     ceil(N/100)   everything the rules need except tags
    GetResources (tagging)    ceil(N/100)   notebook tags (only tagged notebooks are returned)
    Search(TrainingJob)       ceil(T/100)   full jobs with tags: type, spot, runtimes, billable time

ListEndpoints and ListTrainingJobs return neither tags, instance types nor training settings,
so they would need a Describe and a ListTags per resource; Search returns complete records
with tags, 100 per call. Search cannot return notebook instances, and ListNotebookInstances
has all but the tags, which the Resource Groups Tagging API returns 100 at a time.

Search reads an index that AWS updates moments after a change, so a resource created in the
last seconds may only appear in the next read.

Configs are immutable, so what was described is kept, in memory and in a ConfigStore (a
ConfigMap in the cluster, a cache directory for the CLI): a restart describes nothing again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from mlcost.api.v1alpha1.mlcostpolicy import ResourceType
from mlcost.aws.config_cache import CacheKey, ConfigStore, ConfigVariant, EndpointConfig
from mlcost.aws.errors import aws_call, error_code
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain.errors import MlcostError, Throttled
from mlcost.domain.inventory import Inventory, SageMakerResource, Variant, endpoint_kind

PAGE_SIZE = 100
# Jobs that have not finished are read whatever their age.
UNFINISHED_TRAINING_STATUSES = ("InProgress", "Stopping")
NOTEBOOK_TAG_TYPE = "sagemaker:notebook-instance"
# DescribeEndpointConfig calls in flight at once, and per second at most. SageMaker documents no
# per-operation rate for its control-plane API (its quotas page sends to Service Quotas; see
# docs/aws-behaviour.md, Unsure): 20/s is what a serial reader reaches at ~50 ms a call, so it
# asks no more of the account's shared rate than one describe after another did, in less time.
DESCRIBE_CONCURRENCY = 8
DESCRIBE_RATE = 20.0
NOT_NEEDED = "was not read: no rule of a policy in this account needs it"

log = logging.getLogger(__name__)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _optional_utc(moment: datetime | None) -> datetime | None:
    return _utc(moment) if moment is not None else None


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw or []}


def _search_time(moment: datetime) -> str:
    # Search compares timestamps given as YYYY-mm-ddTHH:MM:SS in UTC.
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S")


class RateLimiter:
    """At most `rate` starts per second across threads, spaced evenly (no bursts)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)


class InventoryReader:
    """Reads one account and region's SageMaker inventory per call of read().

    Keeps, per target, the endpoint configs it has described (and, with a store, loads them at
    the first read and saves them when they change), so that a read in a steady account, or
    the first after a restart, describes nothing; configs no endpoint uses any more are dropped
    at each read. Training jobs are those created within `training_lookback` of `now` plus
    every job not finished yet (InProgress, Stopping), whatever its age.
    """

    def __init__(
        self,
        sessions: AwsSessions,
        *,
        training_lookback: timedelta = timedelta(days=30),
        store: ConfigStore | None = None,
        describe_concurrency: int = DESCRIBE_CONCURRENCY,
        describe_rate: float = DESCRIBE_RATE,
    ) -> None:
        self._sessions = sessions
        self.training_lookback = training_lookback
        self.store = store
        self.describe_concurrency = max(1, describe_concurrency)
        self._limiter = RateLimiter(describe_rate)
        self._configs: dict[AwsTarget, dict[str, EndpointConfig]] = {}

    def read(self, target: AwsTarget, now: datetime, *, endpoint_configs: bool = True) -> Inventory:
        """Everything SageMaker holds in the target's account and region that the rules read.

        Without `endpoint_configs` nothing is described: endpoints whose config is not cached
        have no instance types and no kind (their `config_note` says why).
        """
        account_id = self._sessions.account_id(target)
        sagemaker = self._sessions.client("sagemaker", target)
        tagging = self._sessions.client("resourcegroupstaggingapi", target)
        endpoints, unread, skipped = self._endpoints(target, account_id, sagemaker, endpoint_configs)
        resources = [
            *endpoints,
            *self._notebooks(sagemaker, tagging),
            *self._training_jobs(sagemaker, now),
        ]
        return Inventory(
            account_id=account_id,
            region=target.region,
            read_at=now,
            resources=tuple(resources),
            # Not asked to describe, but every config was cached (after a restart, say): complete.
            endpoint_configs_read=endpoint_configs or not skipped,
            unread_configs=unread,
        )

    # ------------------------------------------------------------------------ endpoints

    def _endpoints(
        self, target: AwsTarget, account_id: str, sagemaker: Any, describe: bool
    ) -> tuple[list[SageMakerResource], dict[str, str], bool]:
        # Only what _endpoint reads of each record is kept until the configs are known: a real
        # record also carries data capture, async and shadow settings, deployment history...
        # (and botocore gives every timestamp a tzlocal instance of its own: UTC is shared).
        records = [_slim(r) for r in _search(sagemaker, "Endpoint")]
        key = CacheKey(account_id, target.region, self._sessions.endpoint_url)
        cached = self._configs.get(target)
        if cached is None:
            cached = self.store.load(key) if self.store else {}
        newest: dict[str, datetime] = {}
        for record in records:
            name = record.get("EndpointConfigName")
            if name:
                modified = _utc(record["LastModifiedTime"])
                newest[name] = max(modified, newest.get(name, modified))
        # A cached entry holds for endpoints modified no later than when it was described.
        configs = {
            n: cached[n]
            for n, modified in newest.items()
            if n in cached and modified <= cached[n].seen_modified
        }
        wanted = [name for name in newest if name not in configs]
        notes: dict[str, str] = {}
        if describe and wanted:
            described, notes, error = self._describe(sagemaker, wanted, newest)
            configs.update(described)
        else:
            described, error = {}, None
            notes = dict.fromkeys(wanted, NOT_NEEDED)
        # Only configs of listed endpoints stay: the cache never outgrows the account. One not
        # needed (hence not re-described) keeps its older entry until it is.
        kept = {n: c for n, c in cached.items() if n in newest}
        kept.update(configs)
        self._configs[target] = kept
        if self.store and (described or kept.keys() != cached.keys()):
            self.store.save(key, kept)
        if error is not None:
            raise error
        unread = {name: note for name, note in notes.items() if note != NOT_NEEDED}
        endpoints = [
            _endpoint(
                record,
                configs.get(record.get("EndpointConfigName") or ""),
                notes.get(record.get("EndpointConfigName") or ""),
            )
            for record in records
        ]
        return endpoints, unread, NOT_NEEDED in notes.values()

    def _describe(
        self, sagemaker: Any, names: list[str], newest: dict[str, datetime]
    ) -> tuple[dict[str, EndpointConfig], dict[str, str], MlcostError | None]:
        """Describe `names` several at once, at the limiter's rate, results in `names`' order.

        Throttled after botocore's retries, the sweep stops describing (asking harder would
        not help) and goes on without the configs left, which are named in the notes; any
        other error stops it too, and is returned to be raised once what was described is kept.
        """
        halted = threading.Event()
        errors: list[MlcostError] = []

        def one(name: str) -> EndpointConfig | str:
            if halted.is_set():
                return "was not read: describing stopped after throttling; read again next sweep"
            self._limiter.wait()
            try:
                return _describe_config(sagemaker, name, newest[name])
            except Throttled as exc:
                halted.set()
                return f"could not be read: {exc.message}; read again next sweep"
            except MlcostError as exc:
                halted.set()
                errors.append(exc)
                return f"could not be read: {exc.message}"

        workers = min(self.describe_concurrency, len(names))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="describe-config") as pool:
            results = list(pool.map(one, names))
        described = {n: r for n, r in zip(names, results, strict=True) if isinstance(r, EndpointConfig)}
        notes = {n: r for n, r in zip(names, results, strict=True) if isinstance(r, str)}
        if notes:
            log.warning(
                "%d of %d endpoint configs were not read this sweep: %s",
                len(notes),
                len(names),
                next(iter(notes.values())),
            )
        return described, notes, errors[0] if errors else None

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


def _describe_config(sagemaker: Any, name: str, seen_modified: datetime) -> EndpointConfig:
    with aws_call("sagemaker:DescribeEndpointConfig"):
        try:
            raw = sagemaker.describe_endpoint_config(EndpointConfigName=name)
        except ClientError as exc:
            # A config can be deleted while endpoints still run on it; SageMaker then says
            # ValidationException "Could not find endpoint configuration".
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if error_code(exc) == "ValidationException" and "Could not find" in message:
                return EndpointConfig(
                    variants={}, found=False, asynchronous=False, seen_modified=seen_modified
                )
            raise
    variants = {
        v["VariantName"]: ConfigVariant(
            instance_type=v.get("InstanceType"),
            initial_count=int(v.get("InitialInstanceCount") or 0),
            serverless="ServerlessConfig" in v,
            inference_components="ServerlessConfig" not in v and not v.get("ModelName"),
        )
        for v in [*raw.get("ProductionVariants", []), *raw.get("ShadowProductionVariants", [])]
    }
    return EndpointConfig(
        variants=variants,
        found=True,
        asynchronous=bool(raw.get("AsyncInferenceConfig")),
        seen_modified=seen_modified,
    )


def _variants(record: dict[str, Any], config: EndpointConfig | None) -> tuple[Variant, ...]:
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


# The fields of a Search Endpoint record that _endpoint and _variants read.
ENDPOINT_FIELDS = (
    "EndpointName",
    "EndpointArn",
    "EndpointStatus",
    "Tags",
    "CreationTime",
    "LastModifiedTime",
    "EndpointConfigName",
    "ProductionVariants",
    "ShadowProductionVariants",
)


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    slim = {k: record[k] for k in ENDPOINT_FIELDS if k in record}
    for key in ("CreationTime", "LastModifiedTime"):
        if key in slim:
            slim[key] = _utc(slim[key])
    return slim


def _endpoint(record: dict[str, Any], config: EndpointConfig | None, note: str | None) -> SageMakerResource:
    """An endpoint; its instance_type is its first instance-backed variant's, its
    instance_count the instances of all variants, its kind that of its config (None when the
    config is gone)."""
    variants = _variants(record, config)
    kind = endpoint_kind(config.asynchronous, variants) if config and config.found else None
    if config is not None and not config.found:
        note = "was deleted: SageMaker could not find it"
    elif config is None and not record.get("EndpointConfigName"):
        note = "is not named by SageMaker"
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
        config_note=note if kind is None else None,
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
