"""The operator's settings, read once from MLCOST_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from mlcost.api.types import Duration


def _default_region(env: Mapping[str, str]) -> str:
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"


class ConfigError(ValueError):
    """A setting has a value the operator cannot use."""


class Config(BaseModel):
    """Operator-wide settings. Each field is read from MLCOST_<FIELD_NAME_IN_CAPITALS>."""

    metrics_port: int = Field(default=8080, ge=0, le=65535, description="Port of /metrics.")
    health_port: int = Field(default=8081, ge=0, le=65535, description="Port of /healthz.")
    aws_region: str = Field(
        default="us-east-1",
        description="Region for policies without spec.aws.region (default: AWS_REGION).",
    )
    aws_endpoint_url: str | None = Field(
        default=None, description="Send every AWS call here (an embedded or local AWS)."
    )
    aws_max_attempts: int = Field(
        default=5, ge=1, description="Attempts per AWS call; throttling backs off between them."
    )
    cost_explorer_min_interval: Duration = Field(
        default=timedelta(hours=1),
        description="Ask Cost Explorer ($0.01 a request) at most this often per question.",
    )
    tick: Duration = Field(
        default=timedelta(seconds=30),
        description="How often each object checks whether its resyncInterval has passed.",
    )
    rightsizing_resync: Duration = Field(
        default=timedelta(minutes=15),
        description="How often an EndpointRightsizing re-reads CloudWatch and re-plans.",
    )
    retry_interval: Duration = Field(
        default=timedelta(minutes=1),
        description="How soon a failed reconcile is tried again.",
    )
    price_catalogue: Path | None = Field(
        default=None,
        description="A price file or directory (e.g. a mounted ConfigMap) merged over the shipped prices.",
    )
    price_refresh: bool = Field(
        default=True,
        description="Refresh prices from the AWS Price List API at startup (needs pricing:GetProducts).",
    )
    inventory_max_age: Duration = Field(
        default=timedelta(minutes=2),
        description="Policies in one account and region share a SageMaker inventory this long.",
    )
    endpoint_configs: Literal["needed", "always"] = Field(
        default="needed",
        description=(
            "`needed`: describe endpoint configs (one DescribeEndpointConfig each, once) only in "
            "accounts where a policy has endpoint rules (idle, allowedInstanceTypes); other findings on "
            "endpoints then cost `unknown`. `always`: describe them everywhere, so every finding has a cost."
        ),
    )
    describe_concurrency: int = Field(
        default=8, ge=1, le=64, description="DescribeEndpointConfig calls in flight at once."
    )
    describe_rate: float = Field(
        default=20.0,
        gt=0,
        description="DescribeEndpointConfig calls a second at most (throttled calls also back off).",
    )
    endpoint_config_cache: bool = Field(
        default=True,
        description=(
            "Keep described endpoint configs across restarts: in the ConfigMap "
            "mlcost-endpoint-configs-<account>-<region> of MLCOST_OPERATOR_NAMESPACE, else in "
            "MLCOST_CACHE_DIR (default $XDG_CACHE_HOME/mlcost)."
        ),
    )
    operator_namespace: str | None = Field(
        default=None,
        description="The operator's namespace (deploy/ sets it from the pod): where its ConfigMap cache is.",
    )
    max_concurrent_reconciles: int = Field(
        default=4,
        ge=0,
        description=(
            "Reconciles (of every kind together) running at once; the others wait their turn in "
            "arrival order. 0: no bound (as many as the thread pool has threads)."
        ),
    )
    namespaces: list[str] = Field(
        default_factory=list,
        description="Watch only these namespaces (comma-separated); default: all.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description=(
            "`text`: one line per event for people; `json`: one JSON object per line (time, level, "
            "logger, message; namespace, name and kind on lines about an object) for a log pipeline."
        ),
    )
    peering: str = Field(
        default="mlcost",
        min_length=1,
        description=(
            "Name of the kopf peering that replicas join so that only one acts at a time: the "
            "ClusterKopfPeering of that name when watching all namespaces, the KopfPeering of that "
            "name in each watched namespace otherwise. The oldest running replica is active, the "
            "others stay passive until it leaves. `mlcost run` creates the peering object when it is "
            "missing (RBAC: `create` on it); without it the operator stays paused."
        ),
    )
    standalone: bool = Field(
        default=False,
        description="Run without peering (one replica only: two standalone operators would both act).",
    )
    peering_lifetime: Duration = Field(
        default=timedelta(seconds=60),
        ge=timedelta(seconds=1),
        description=(
            "How long a replica's keep-alive in the peering counts: a crashed active replica is "
            "replaced at most this long after its last keep-alive (a graceful exit hands over at once)."
        ),
    )

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        values: dict[str, object] = {"aws_region": _default_region(env)}
        for name in cls.model_fields:
            key = f"MLCOST_{name.upper()}"
            if key in env:
                values[name] = env[key]
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"MLCOST_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid operator settings: {problems}") from exc
