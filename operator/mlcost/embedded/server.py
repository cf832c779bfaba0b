"""EmbeddedAws: a moto server on 127.0.0.1 with our extensions, plus the hooks tests drive."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

from moto.server import ThreadedMotoServer

from . import moto_ext
from .moto_ext import budgets, ce, dispatch, inference_recommender, sagemaker, savingsplans
from .moto_ext._common import DEFAULT_ACCOUNT_ID, extension_operations

__all__ = ["DEFAULT_ACCOUNT_ID", "EmbeddedAws"]


class EmbeddedAws:
    """moto in server mode, extended (see moto_ext), on 127.0.0.1.

    Clients connect with boto3's endpoint_url=aws.endpoint_url, region_name=aws.region and
    the dummy credentials "testing"/"testing"; they act in account DEFAULT_ACCOUNT_ID.

    The hooks act on this process's moto state, which every server in the process shares
    (moto keeps it in module globals): run one EmbeddedAws per process.

        with EmbeddedAws() as aws:
            budgets = boto3.client("budgets", endpoint_url=aws.endpoint_url, ...)
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        region: str = "us-east-1",
        quiet: bool = True,
        strict: bool | None = None,
        latency_ms: float | None = None,
    ) -> None:
        self.host = host
        self.port = port  # the port serving once started
        self._requested_port = port
        self.region = region
        self.account_id = DEFAULT_ACCOUNT_ID
        self.quiet = quiet
        self._server: ThreadedMotoServer | None = None
        self._endpoint_url: str | None = None
        # None: keep the process's setting (MLCOST_EMBEDDED_STRICT=1 switches it on).
        self._strict = strict
        # None: keep the process's setting (0 ms unless set_latency was called).
        self._latency_ms = latency_ms

    # ------------------------------------------------------------------------ lifecycle

    @property
    def endpoint_url(self) -> str:
        """http://127.0.0.1:PORT of the running server."""
        if self._endpoint_url is None:
            raise RuntimeError("EmbeddedAws is not started")
        return self._endpoint_url

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> EmbeddedAws:
        """Install the extensions (once per process) and serve; port 0 picks a free port."""
        if self._server is not None:
            return self
        moto_ext.install()
        if self._strict is not None:
            dispatch.set_strict(self._strict)
        if self._latency_ms is not None:
            dispatch.set_latency(self._latency_ms)
        if self.quiet:
            # werkzeug logs every request at INFO on stderr.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address=self.host, port=self._requested_port, verbose=not self.quiet)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self.port = port
        self._endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop serving. moto's state stays in the process until reset()."""
        server, self._server, self._endpoint_url = self._server, None, None
        if server is not None:
            server.stop()

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _post(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        request = urllib.request.Request(
            self.endpoint_url + path,
            data=json.dumps(body or {}).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode() or "null"
        return json.loads(text) if text.lstrip().startswith(("{", "[")) else text

    # ------------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget every AWS resource, queued result, hook setting, fault and call count."""
        self._post("/moto-api/reset")

    def queue_cost_and_usage(self, results: list[dict[str, Any]], *, account_id: str | None = None) -> None:
        """Queue GetCostAndUsage responses (moto's own queue).

        Each result is a response body: {"ResultsByTime": [...], "DimensionValueAttributes":
        [...], "GroupDefinitions"?: [...]}. A request takes the next queued result the first
        time its exact parameters are seen, and the same result for the same parameters
        after; with the queue empty it gets an empty ResultsByTime.
        """
        self._post(
            "/moto-api/static/ce/cost-and-usage-results",
            {"results": results, "account_id": account_id or self.account_id},
        )

    def queue_cost_forecast(self, results: list[dict[str, Any]], *, account_id: str | None = None) -> None:
        """Queue GetCostForecast responses ({"Total": {"Amount", "Unit"},
        "ForecastResultsByTime": [...]}), bound to parameters like queue_cost_and_usage.
        With none queued, GetCostForecast forecasts 0 USD for every period."""
        self._post(
            "/moto-api/static/ce/cost-forecast-results",
            {"results": results, "account_id": account_id or self.account_id},
        )

    def set_cost_allocation_tags(self, tags: list[dict[str, Any]], *, account_id: str | None = None) -> None:
        """The account's cost-allocation tags: [{"TagKey", "Status": Active|Inactive, "Type"?}]."""
        ce.set_cost_allocation_tags(tags, account_id=account_id or self.account_id)

    def add_cost_line_items(self, items: list[dict[str, Any]], *, account_id: str | None = None) -> None:
        """Add cost line items: [{"date": "2026-12-01", "service"?: "Amazon SageMaker",
        "usageType": "USE1-Host:ml.m5.xlarge", "amount": "12.34", "tags"?: {"team": "fraud"}}].

        Once an account has line items, GetCostAndUsage answers from them (Filter on SERVICE,
        USAGE_TYPE and tags; GroupBy up to two of TAG / DIMENSION SERVICE / USAGE_TYPE;
        DAILY or MONTHLY; paged) instead of moto's queue. Tags count only for keys that are
        active cost-allocation tags, when any are set (set_cost_allocation_tags).
        """
        ce.add_cost_line_items(items, account_id=account_id or self.account_id)

    def set_savings_plans(self, plans: list[dict[str, Any]], *, account_id: str | None = None) -> None:
        """The account's Savings Plans as DescribeSavingsPlans answers them (botocore's
        savingsplans SavingsPlan dicts: savingsPlanId, savingsPlanArn, start, end, state,
        savingsPlanType, paymentOption, commitment, termDurationInSeconds, ...)."""
        savingsplans.set_savings_plans(plans, account_id=account_id or self.account_id)

    def set_savings_plans_usage(
        self,
        *,
        total_commitment: str,
        used_commitment: str,
        covered_spend: str,
        on_demand_cost: str,
        account_id: str | None = None,
    ) -> None:
        """What GetSavingsPlansUtilization (commitment) and GetSavingsPlansCoverage (covered
        and on-demand spend) report for every period asked. Unset, utilisation answers
        DataUnavailableException and coverage is 0% of the line items' spend."""
        ce.set_savings_plans_usage(
            total_commitment=total_commitment,
            used_commitment=used_commitment,
            covered_spend=covered_spend,
            on_demand_cost=on_demand_cost,
            account_id=account_id or self.account_id,
        )

    def set_savings_plans_recommendation(
        self, recommendation: dict[str, Any] | None, *, account_id: str | None = None
    ) -> None:
        """The SavingsPlansPurchaseRecommendation (botocore shape) that
        GetSavingsPlansPurchaseRecommendation answers for SAGEMAKER_SP, echoing the request's
        term, payment option and lookback; None: no recommendation (too little history)."""
        ce.set_savings_plans_recommendation(recommendation, account_id=account_id or self.account_id)

    def set_budget_spend(
        self,
        budget_name: str,
        actual: Decimal | str | int,
        forecasted: Decimal | str | int | None = None,
        *,
        unit: str = "USD",
    ) -> None:
        """The CalculatedSpend (ActualSpend, ForecastedSpend) a budget reports."""
        budgets.set_budget_spend(budget_name, actual, forecasted, unit=unit, account_id=self.account_id)

    def set_transition_delay(self, describes: int) -> None:
        """How many DescribeEndpoint / DescribeTrainingJob calls still show Updating / Stopping
        after UpdateEndpoint / StopTrainingJob (default 1: the second describe shows the end)."""
        sagemaker.set_transition_delay(describes, region=self.region, account_id=self.account_id)

    def fail_endpoint_config(
        self,
        endpoint_config_name: str,
        reason: str = sagemaker.DEFAULT_FAILURE_REASON,
        *,
        rollback: bool = True,
    ) -> None:
        """Make UpdateEndpoint to this config fail: back to InService on the old config with
        FailureReason (rollback=True), or Failed (rollback=False)."""
        sagemaker.fail_endpoint_config(
            endpoint_config_name,
            reason,
            rollback=rollback,
            region=self.region,
            account_id=self.account_id,
        )

    def hold_training_jobs(self, names: Iterable[str], *, started_at: datetime | None = None) -> None:
        """Keep these training jobs ("*": all) InProgress, optionally started at started_at."""
        sagemaker.hold_training_jobs(
            names, started_at=started_at, region=self.region, account_id=self.account_id
        )

    def set_inference_recommendations(
        self,
        job_name: str,
        status: str,
        recommendations: Iterable[dict[str, Any]] = (),
        *,
        failure_reason: str | None = None,
        account_id: str | None = None,
    ) -> None:
        """Give an Inference Recommender job (created through the API) a status and, when
        COMPLETED, its recommendations: AWS's InferenceRecommendation dicts or the shorthand
        {"InstanceType", "InitialInstanceCount"?, "CostPerHour", "ModelLatency",
        "MaxInvocations", ...}. LookupError when the job doesn't exist."""
        inference_recommender.set_inference_recommendations(
            job_name,
            status,
            recommendations,
            failure_reason=failure_reason,
            region=self.region,
            account_id=account_id or self.account_id,
        )

    # ------------------------------------------------------------------------ faults, calls

    @staticmethod
    def inject_error(
        service: str,
        operation: str,
        code: str,
        message: str | None = None,
        count: int | None = 1,
        *,
        status: int | None = None,
    ) -> None:
        """Fail the next `count` calls (None: all until clear_errors) of service:operation.

        service is the boto3 client name, operation the API name or "*". The error is
        rendered in the service's protocol; status defaults to AWS's (400 for throttling,
        403 for AccessDenied, 500/503 for internal/unavailable errors).
        """
        dispatch.inject_error(service, operation, code, message, count, status)

    @staticmethod
    def clear_errors() -> None:
        """Disarm every injected error."""
        dispatch.clear_faults()

    @staticmethod
    def calls() -> Counter[tuple[str, str]]:
        """Requests received per (boto3 service name, operation) since the last reset."""
        return dispatch.calls()

    @staticmethod
    def reset_calls() -> None:
        """Zero the call counter (reset() does too)."""
        dispatch.reset_calls()

    # ------------------------------------------------------------------------ latency

    @staticmethod
    def set_latency(milliseconds: float) -> None:
        """Wait this long in every AWS request before answering it (0: answer at once), as a
        round trip to AWS would; requests served concurrently wait in parallel. The hooks and
        reset() are not delayed, and reset() keeps the setting."""
        dispatch.set_latency(milliseconds)

    @property
    def latency_ms(self) -> float:
        """The per-request latency injected now, in milliseconds."""
        return dispatch.latency_ms()

    # ------------------------------------------------------------------------ strict mode

    @property
    def strict(self) -> bool:
        """Whether extension answers are checked against botocore's output shapes (and requests
        against the input shapes): a malformed answer becomes a 501 naming every difference."""
        return dispatch.strict()

    @staticmethod
    def shape_errors() -> list[dispatch.ShapeError]:
        """Malformed extension answers seen in strict mode since clear_shape_errors() (not reset())."""
        return dispatch.shape_errors()

    @staticmethod
    def clear_shape_errors() -> None:
        dispatch.clear_shape_errors()

    @staticmethod
    def operator_operations() -> set[tuple[str, str]]:
        """(service, operation) of every request the operator's own clients (user agent
        mlcost-operator) sent since the process started; reset() keeps them."""
        return dispatch.operator_operations()

    @staticmethod
    def extension_operations() -> frozenset[tuple[str, str]]:
        """(service, operation) of every operation whose answer the extensions build or change."""
        moto_ext.install()
        return extension_operations()
