"""boto3 clients per (service, region, role): cached, retrying, counted, role sessions refreshed."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

from mlcost.aws.errors import QUOTA_CODES, THROTTLING_CODES, aws_call
from mlcost.aws.models import lean_loader, share_loader

# Budgets and Cost Explorer are global services served from us-east-1 in the aws partition.
GLOBAL_SERVICES_REGION = "us-east-1"
GLOBAL_SERVICES = frozenset({"budgets", "ce", "pricing"})
ROLE_SESSION_NAME = "mlcost-operator"
# Attempts per Cost Explorer call (the first and one retry): see AwsSessions._ce_config.
COST_EXPLORER_MAX_ATTEMPTS = 2


class CallRecorder(Protocol):
    """Receives one record per AWS API call and per throttled attempt (metrics, benchmarks)."""

    def record_call(self, service: str, operation: str, outcome: str) -> None: ...

    def record_throttle(self, service: str, operation: str) -> None: ...


class CountingRecorder:
    """A CallRecorder that only counts: for `mlcost plan`, benchmarks and tests."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.throttles: Counter[tuple[str, str]] = Counter()

    def record_call(self, service: str, operation: str, outcome: str) -> None:
        self.calls[(service, operation, outcome)] += 1

    def record_throttle(self, service: str, operation: str) -> None:
        self.throttles[(service, operation)] += 1


@dataclass(frozen=True)
class AwsTarget:
    """Where and as whom to call AWS."""

    region: str
    role_arn: str | None = None


class _AssumedRoleProvider(CredentialProvider):
    """Credentials of an assumed role that botocore refreshes before they expire."""

    METHOD = "mlcost-assume-role"

    def __init__(self, sts: Any, role_arn: str) -> None:
        super().__init__()
        self._sts = sts
        self._role_arn = role_arn

    def _fetch(self) -> dict[str, str]:
        with aws_call("sts:AssumeRole"):
            response = self._sts.assume_role(
                RoleArn=self._role_arn, RoleSessionName=ROLE_SESSION_NAME, DurationSeconds=3600
            )
        creds = response["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(
            metadata=self._fetch(), refresh_using=self._fetch, method=self.METHOD
        )


class AwsSessions:
    """Hands out boto3 clients; one per (service, region, role), created once."""

    def __init__(
        self,
        *,
        default_region: str,
        endpoint_url: str | None = None,
        max_attempts: int = 5,
        recorder: CallRecorder | None = None,
        base_session: boto3.Session | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 30,
    ) -> None:
        self.default_region = default_region
        self.endpoint_url = endpoint_url
        self.recorder = recorder or CountingRecorder()
        self._base = base_session or boto3.Session()
        self._models = lean_loader(self._base)
        self._config = Config(
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent_extra="mlcost-operator",
        )
        self._sessions: dict[str | None, boto3.Session] = {None: self._base}
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._accounts: dict[str | None, str] = {}
        self._account_locks: dict[str | None, threading.Lock] = {}
        self._lock = threading.Lock()
        # Each Cost Explorer request costs $0.01, retries included, and its answers are cached
        # (failures too) for an hour: one retry, not botocore's usual five attempts on a 5xx.
        self._ce_config = self._config.merge(
            Config(
                retries={
                    "mode": "standard",
                    "total_max_attempts": min(max_attempts, COST_EXPLORER_MAX_ATTEMPTS),
                }
            )
        )

    def target(self, region: str | None, role_arn: str | None) -> AwsTarget:
        return AwsTarget(region or self.default_region, role_arn)

    def client(self, service: str, target: AwsTarget) -> Any:
        region = GLOBAL_SERVICES_REGION if service in GLOBAL_SERVICES else target.region
        key = (service, region, target.role_arn)
        with self._lock:
            if key not in self._clients:
                session = self._session(target.role_arn)
                config = self._ce_config if service == "ce" else self._config
                client = session.client(  # type: ignore[call-overload]
                    service, region_name=region, endpoint_url=self.endpoint_url, config=config
                )
                self._instrument(client)
                self._clients[key] = client
            return self._clients[key]

    def account_id(self, target: AwsTarget) -> str:
        """The account the target's credentials act in (STS GetCallerIdentity, asked once).

        Asked once even when many policies of one role miss at the same moment: they wait on
        the role's lock for the one request in flight (a failure is not kept: the next asks).
        """
        if target.role_arn in self._accounts:
            return self._accounts[target.role_arn]
        with self._lock:
            role_lock = self._account_locks.setdefault(target.role_arn, threading.Lock())
        with role_lock:
            if target.role_arn not in self._accounts:
                sts = self.client("sts", target)
                with aws_call("sts:GetCallerIdentity"):
                    self._accounts[target.role_arn] = str(sts.get_caller_identity()["Account"])
            return self._accounts[target.role_arn]

    def _session(self, role_arn: str | None) -> boto3.Session:
        if role_arn is not None and role_arn not in self._sessions:
            sts = self._base.client(
                "sts",
                region_name=self.default_region,
                endpoint_url=self.endpoint_url,
                config=self._config,
            )
            self._instrument(sts)
            core = botocore.session.get_session()
            share_loader(core, self._models)  # the models once per process, not once per role
            core.register_component(
                "credential_provider", CredentialResolver([_AssumedRoleProvider(sts, role_arn)])
            )
            self._sessions[role_arn] = boto3.Session(botocore_session=core, region_name=self.default_region)
        return self._sessions[role_arn]

    def _instrument(self, client: BaseClient) -> None:
        service = client.meta.service_model.service_name
        recorder = self.recorder

        def after_call(parsed: dict[str, Any], model: Any, **_: Any) -> None:
            code = parsed.get("Error", {}).get("Code")
            recorder.record_call(service, model.name, code or "success")

        def after_call_error(event_name: str, exception: Exception, **_: Any) -> None:
            # Connection failures carry no model; the event name ends with the operation.
            recorder.record_call(service, event_name.rsplit(".", 1)[-1], type(exception).__name__)

        def needs_retry(response: Any = None, operation: Any = None, **_: Any) -> None:
            if response is None or operation is None:
                return
            code = response[1].get("Error", {}).get("Code")
            # Application Auto Scaling's LimitExceededException is a quota, not a throttle.
            if code in THROTTLING_CODES and code not in QUOTA_CODES.get(service, ()):
                recorder.record_throttle(service, operation.name)

        events = client.meta.events
        events.register("after-call", after_call)
        events.register("after-call-error", after_call_error)
        events.register("needs-retry", needs_retry)
