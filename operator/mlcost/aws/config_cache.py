"""Endpoint configs already described, kept across restarts.

An endpoint config never changes once created (SageMaker has no UpdateEndpointConfig), so what
DescribeEndpointConfig said of one stays true; only a name deleted and re-created can say
otherwise, and an endpoint moves to such a config with UpdateEndpoint, which changes its
LastModifiedTime: each entry keeps the newest LastModifiedTime of an endpoint using it when it
was described, and is described again for an endpoint modified later.

The stored form is one gzipped JSON document per account, region and AWS endpoint, which says
whose it is: a document of another account, region or endpoint, of another schema, or that
does not parse, is ignored with a warning and rebuilt by the next read. Two stores hold it: a
directory for the CLI (FileConfigStore) and, in the cluster, a ConfigMap
(mlcost.handlers.config_map_store).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

SCHEMA = "mlcost.io/endpoint-configs/v1"
# A ConfigMap holds at most 1 MiB (etcd's object limit); stay well below it with its metadata.
MAX_STORED_BYTES = 900 * 1024


@dataclass(frozen=True)
class ConfigVariant:
    instance_type: str | None
    initial_count: int
    serverless: bool
    # Instance-backed with no ModelName: it hosts inference components (CreateInferenceComponent
    # places the models on it), which publish their own metrics.
    inference_components: bool


@dataclass(frozen=True)
class EndpointConfig:
    """What an endpoint config says of its variants; `found` is False once it was deleted."""

    variants: Mapping[str, ConfigVariant]
    found: bool
    # AsyncInferenceConfig is set: requests are queued and the endpoint publishes no Invocations.
    # Only the config says so: Search's Endpoint record has no AsyncInferenceConfig.
    asynchronous: bool
    # The newest LastModifiedTime of an endpoint using the config when it was described.
    seen_modified: datetime


@dataclass(frozen=True)
class CacheKey:
    """Whose configs: an account and region, as served by one AWS endpoint (None: AWS itself)."""

    account_id: str
    region: str
    endpoint_url: str | None = None

    @property
    def label(self) -> str:
        return f"account {self.account_id}, region {self.region}" + (
            f", endpoint {self.endpoint_url}" if self.endpoint_url else ""
        )


class ConfigStore(Protocol):
    """Where described configs outlive the process."""

    def load(self, key: CacheKey) -> dict[str, EndpointConfig]:
        """The configs stored for `key`; {} when there are none or they cannot be used (warned)."""
        ...

    def save(self, key: CacheKey, configs: Mapping[str, EndpointConfig]) -> None:
        """Replace what is stored for `key`; a failure is logged, never raised (it is a cache)."""
        ...


class UnusableCache(ValueError):
    """A stored document that must not be used: it says why."""


def encode(key: CacheKey, configs: Mapping[str, EndpointConfig], max_bytes: int = MAX_STORED_BYTES) -> bytes:
    """The gzipped document for `configs`; the most recently seen ones when all do not fit."""
    kept = sorted(configs.items(), key=lambda item: (item[1].seen_modified, item[0]), reverse=True)
    while True:
        data = gzip.compress(_document(key, dict(kept)), mtime=0)
        if len(data) <= max_bytes or not kept:
            return data
        # Drop the oldest in proportion to the excess (at least one), then measure again.
        keep = min(len(kept) - 1, int(len(kept) * max_bytes / len(data) * 0.95))
        log.info("endpoint-config cache of %s: %d configs exceed %d bytes", key.label, len(kept), max_bytes)
        kept = kept[: max(keep, 0)]


def _document(key: CacheKey, configs: Mapping[str, EndpointConfig]) -> bytes:
    entries = {
        name: {
            "found": config.found,
            "async": config.asynchronous,
            "seen": config.seen_modified.isoformat(),
            "variants": [
                [variant, v.instance_type, v.initial_count, v.serverless, v.inference_components]
                for variant, v in config.variants.items()
            ],
        }
        for name, config in sorted(configs.items())
    }
    document = {
        "schema": SCHEMA,
        "account": key.account_id,
        "region": key.region,
        "endpoint": key.endpoint_url,
        "configs": entries,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode(key: CacheKey, data: bytes) -> dict[str, EndpointConfig]:
    """The configs of a stored document; UnusableCache if it is corrupt or not `key`'s."""
    try:
        document = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError) as exc:
        raise UnusableCache(f"not a gzipped JSON document ({exc})") from exc
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise UnusableCache(f"not a {SCHEMA} document")
    owner = CacheKey(str(document.get("account")), str(document.get("region")), document.get("endpoint"))
    if owner != key:
        raise UnusableCache(f"it holds the configs of {owner.label}, not of {key.label}")
    try:
        return {name: _entry(raw) for name, raw in dict(document["configs"]).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise UnusableCache(f"an entry does not parse ({type(exc).__name__}: {exc})") from exc


def _entry(raw: Mapping[str, Any]) -> EndpointConfig:
    variants = {}
    for name, instance_type, count, serverless, components in raw["variants"]:
        variants[str(name)] = ConfigVariant(
            None if instance_type is None else str(instance_type),
            int(count),
            _flag(serverless),
            _flag(components),
        )
    seen = datetime.fromisoformat(str(raw["seen"]))
    if seen.tzinfo is None:
        raise ValueError(f"time {raw['seen']!r} has no offset")
    return EndpointConfig(variants, _flag(raw["found"]), _flag(raw["async"]), seen)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{value!r} is not true or false")
    return value


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """MLCOST_CACHE_DIR, else $XDG_CACHE_HOME/mlcost, else ~/.cache/mlcost."""
    env = os.environ if env is None else env
    if env.get("MLCOST_CACHE_DIR"):
        return Path(env["MLCOST_CACHE_DIR"])
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "mlcost"


class FileConfigStore:
    """One file per account, region and endpoint in a directory (the CLI's cache)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def path(self, key: CacheKey) -> Path:
        # The endpoint is in the document, not the name: a name stays short and portable.
        return self.directory / f"endpoint-configs-{key.account_id}-{key.region}.json.gz"

    def load(self, key: CacheKey) -> dict[str, EndpointConfig]:
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("Ignoring the endpoint-config cache %s: cannot read it (%s)", path, exc)
            return {}
        try:
            return decode(key, data)
        except UnusableCache as exc:
            log.warning("Ignoring the endpoint-config cache %s: %s; it is rebuilt by this read", path, exc)
            return {}

    def save(self, key: CacheKey, configs: Mapping[str, EndpointConfig]) -> None:
        path = self.path(key)
        started = time.monotonic()
        data = encode(key, configs)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._lock:
                _write_atomically(path, data)
        except OSError as exc:
            log.warning(
                "Could not write the endpoint-config cache %s: %s (the next run describes again)", path, exc
            )
            return
        log.debug("wrote %d endpoint configs to %s in %.3fs", len(configs), path, time.monotonic() - started)


def _write_atomically(path: Path, data: bytes) -> None:
    """Written whole then renamed: a reader (another `mlcost plan`) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        Path(tmp).replace(path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
