"""The operator's endpoint-config cache in ConfigMaps (mlcost.handlers.config_map_store), against
the fake Kubernetes API over HTTP with the real kubernetes client: what a restarted operator
reads back, that a steady one writes nothing, and that a corrupt, foreign, refused, oversized or
contested ConfigMap costs a warning and never an exception or another account's configs."""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import logging
import re
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.config import kube_config

from mlcost.aws.config_cache import MAX_STORED_BYTES, CacheKey, ConfigVariant, EndpointConfig, encode
from mlcost.handlers.config_map_store import DATA_KEY, LABELS, ConfigMapStore
from tests.kube.fake_api import CONFIG_MAP_MAX_BYTES, FakeKubeAPI, RecordedRequest

NS = "mlcost-system"
KEY = CacheKey("123456789012", "us-east-1")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LOGGER = "mlcost.config_cache"


def config(instance_type: str = "ml.m5.large", *, seen: datetime = T0, count: int = 1) -> EndpointConfig:
    return EndpointConfig(
        {"AllTraffic": ConfigVariant(instance_type, count, False, False)}, True, False, seen
    )


CONFIGS = {
    "cfg-a": config("ml.m5.large"),
    "cfg-b": config("ml.g5.xlarge", count=2, seen=T0 + timedelta(hours=1)),
    "cfg-gone": EndpointConfig({}, False, False, T0),
}


def api_client(url: str) -> Any:
    configuration = client.Configuration(host=url)
    configuration.retries = False
    return client.ApiClient(configuration)


@pytest.fixture
def connect(kube: FakeKubeAPI) -> Iterator[Callable[..., ConfigMapStore]]:
    """A new store (as in a new operator process) on the fake API, or on another URL."""
    clients: list[Any] = []

    def make(url: str | None = None) -> ConfigMapStore:
        clients.append(api_client(url or kube.url))
        return ConfigMapStore(NS, api=clients[-1])

    yield make
    for api in clients:
        api.close()


def config_map_requests(kube: FakeKubeAPI) -> list[RecordedRequest]:
    return [r for r in kube.requests() if r.plural == "configmaps"]


def writes(requests: list[RecordedRequest]) -> list[str]:
    return [r.method for r in requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def stored_document(kube: FakeKubeAPI, name: str) -> bytes:
    config_map = kube.get("configmaps", NS, name)
    assert config_map is not None
    return base64.b64decode(config_map["binaryData"][DATA_KEY])


def put_config_map(kube: FakeKubeAPI, name: str, **content: Any) -> None:
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, **content}
    )


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


# ----- what a restart reads back, and what a steady operator writes ----------------------------


def test_a_restarted_operator_reads_back_what_the_previous_one_saved(
    kube: FakeKubeAPI, connect: Callable[..., ConfigMapStore]
) -> None:
    first = connect()
    assert first.load(KEY) == {}  # nothing yet: silently empty
    first.save(KEY, CONFIGS)

    name = "mlcost-endpoint-configs-123456789012-us-east-1"
    config_map = kube.get("configmaps", NS, name)
    assert config_map is not None
    assert config_map["metadata"]["labels"] == LABELS
    assert list(config_map["binaryData"]) == [DATA_KEY]
    assert json.loads(gzip.decompress(stored_document(kube, name)))["account"] == KEY.account_id

    assert connect().load(KEY) == CONFIGS


def test_a_steady_operator_writes_nothing(kube: FakeKubeAPI, connect: Callable[..., ConfigMapStore]) -> None:
    first = connect()
    first.load(KEY)
    first.save(KEY, CONFIGS)
    before = len(config_map_requests(kube))
    first.save(KEY, dict(CONFIGS))  # the same configs again, after the next sweep
    assert config_map_requests(kube)[before:] == []

    # A restart that finds the same configs reads once and writes nothing.
    restarted = connect()
    configs = restarted.load(KEY)
    restarted.save(KEY, configs)
    after_restart = config_map_requests(kube)[before:]
    assert [r.method for r in after_restart] == ["GET"]

    # A new config is written, once, over the version read.
    configs["cfg-c"] = config("ml.c5.large", seen=T0 + timedelta(hours=2))
    restarted.save(KEY, configs)
    restarted.save(KEY, configs)
    assert writes(config_map_requests(kube)[before:]) == ["PUT"]
    assert connect().load(KEY) == configs


def test_save_before_any_load_creates_or_replaces(
    kube: FakeKubeAPI, connect: Callable[..., ConfigMapStore]
) -> None:
    connect().save(KEY, CONFIGS)
    more = {**CONFIGS, "cfg-c": config("ml.c5.large")}
    connect().save(KEY, more)  # another process, which never loaded: reads, then replaces
    assert writes(config_map_requests(kube)) == ["POST", "PUT"]
    assert connect().load(KEY) == more


def test_the_store_finds_the_cluster_as_kopf_does(
    kube: FakeKubeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = kube.kubeconfig(tmp_path / "kubeconfig")
    # The kubernetes client reads KUBECONFIG when it is imported (a pod's environment is set by
    # then): point its default there, as that environment would.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    store = ConfigMapStore(NS)  # no ApiClient: its own, from the kubeconfig
    try:
        store.save(KEY, CONFIGS)
        assert ConfigMapStore(NS, api=api_client(kube.url)).load(KEY) == CONFIGS
    finally:
        store.close()


# ----- names ----------------------------------------------------------------------------------


def test_each_account_region_and_endpoint_has_its_own_valid_name() -> None:
    store = ConfigMapStore(NS)
    keys = [
        KEY,
        CacheKey("123456789012", "eu-west-1"),
        CacheKey("210987654321", "us-east-1"),
        CacheKey("123456789012", "us-east-1", "http://127.0.0.1:4566"),
        CacheKey("123456789012", "us-east-1", "http://127.0.0.1:4567"),
        CacheKey("123456789012", "US_EAST_1"),  # not a name as it is: cleaned, and hashed apart
        CacheKey("123456789012", "us-east-1" + "x" * 300),
    ]
    names = [store.name(key) for key in keys]
    assert len(set(names)) == len(keys)
    subdomain = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
    for name in names:
        assert subdomain.fullmatch(name) and len(name) <= 253, name
    assert names[0] == "mlcost-endpoint-configs-123456789012-us-east-1"
    assert names[3].startswith(names[0] + "-")  # the endpoint's hash added
    assert store.name(keys[3]) == ConfigMapStore("elsewhere").name(keys[3])  # stable


def test_an_embedded_aws_never_shares_the_real_accounts_configmap(
    kube: FakeKubeAPI, connect: Callable[..., ConfigMapStore]
) -> None:
    embedded = CacheKey(KEY.account_id, KEY.region, "http://127.0.0.1:4566")
    store = connect()
    store.save(embedded, CONFIGS)
    assert store.load(KEY) == {}
    assert len(kube.list_objects("configmaps", NS)) == 1
    assert connect().load(embedded) == CONFIGS


# ----- bad input: ignored with a warning, rebuilt ------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        {"binaryData": {DATA_KEY: base64.b64encode(b"\x00garbage, not gzip").decode()}},
        {"binaryData": {DATA_KEY: base64.b64encode(gzip.compress(b'{"schema": "other/v9"}')).decode()}},
        {"binaryData": {DATA_KEY: base64.b64encode(gzip.compress(b"[1, 2")).decode()}},
        {"data": {"note": "someone's own ConfigMap, without our key"}},
    ],
    ids=["garbage", "other-schema", "truncated-json", "no-key"],
)
def test_a_corrupt_configmap_is_ignored_with_a_warning_and_replaced(
    kube: FakeKubeAPI,
    connect: Callable[..., ConfigMapStore],
    caplog: pytest.LogCaptureFixture,
    content: dict[str, Any],
) -> None:
    store = connect()
    name = store.name(KEY)
    put_config_map(kube, name, **content)
    with caplog.at_level(logging.WARNING, LOGGER):
        assert store.load(KEY) == {}
    (warning,) = warnings(caplog)
    assert f"Ignored the endpoint-config cache in ConfigMap {NS}/{name}" in warning
    assert "rebuilt" in warning

    store.save(KEY, CONFIGS)  # the next save replaces it
    replaced = kube.get("configmaps", NS, name)
    assert replaced is not None and "data" not in replaced
    assert replaced["metadata"]["labels"] == LABELS
    assert connect().load(KEY) == CONFIGS


@pytest.mark.parametrize(
    "owner",
    [
        CacheKey("210987654321", KEY.region),
        CacheKey(KEY.account_id, "eu-west-1"),
        CacheKey(KEY.account_id, KEY.region, "http://127.0.0.1:4566"),
    ],
    ids=["other-account", "other-region", "other-endpoint"],
)
def test_a_document_of_another_account_region_or_endpoint_is_never_used(
    kube: FakeKubeAPI,
    connect: Callable[..., ConfigMapStore],
    caplog: pytest.LogCaptureFixture,
    owner: CacheKey,
) -> None:
    # Another owner's document under our name (copied by hand, or a restore gone wrong).
    store = connect()
    put_config_map(
        kube, store.name(KEY), binaryData={DATA_KEY: base64.b64encode(encode(owner, CONFIGS)).decode()}
    )
    with caplog.at_level(logging.WARNING, LOGGER):
        assert store.load(KEY) == {}
    (warning,) = warnings(caplog)
    assert f"it holds the configs of {owner.label}, not of {KEY.label}" in warning

    mine = {"cfg-mine": config("ml.t3.medium")}
    store.save(KEY, mine)
    assert connect().load(KEY) == mine


def test_a_corrupt_configmap_is_warned_about_once(
    kube: FakeKubeAPI, connect: Callable[..., ConfigMapStore], caplog: pytest.LogCaptureFixture
) -> None:
    store = connect()
    put_config_map(kube, store.name(KEY), binaryData={DATA_KEY: base64.b64encode(b"garbage").decode()})
    with caplog.at_level(logging.WARNING, LOGGER):
        store.load(KEY)
        store.load(KEY)
    assert len(warnings(caplog)) == 1


# ----- the cluster refuses, or does not answer --------------------------------------------------


class _Refusing(http.server.ThreadingHTTPServer):
    """An API server's RBAC in front of the fake: 403 for what `denied(method, path)` says."""

    upstream: str
    denied: Callable[[str, str], bool]


class _Forward(http.server.BaseHTTPRequestHandler):
    server: _Refusing

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.server.denied(self.command, self.path):
            verb = {"GET": "get", "POST": "create", "PUT": "update"}.get(self.command, self.command.lower())
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f'configmaps is forbidden: User "system:serviceaccount:{NS}:mlcost-operator" '
                f'cannot {verb} resource "configmaps" in API group "" in the namespace "{NS}"',
                "reason": "Forbidden",
                "details": {"kind": "configmaps"},
                "code": 403,
            }
            self._answer(403, json.dumps(status).encode(), "application/json")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(
            self.server.upstream + self.path, data=body, method=self.command, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                self._answer(response.status, response.read(), response.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as error:
            self._answer(error.code, error.read(), error.headers.get("Content-Type", ""))

    def _answer(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def rbac(kube: FakeKubeAPI) -> Iterator[Callable[[Callable[[str, str], bool]], str]]:
    """`rbac(denied)`: the URL of the fake behind an RBAC refusing what `denied` says."""
    servers: list[_Refusing] = []

    def start(denied: Callable[[str, str], bool]) -> str:
        server = _Refusing(("127.0.0.1", 0), _Forward)
        server.upstream, server.denied = kube.url, denied
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_without_get_it_names_the_verb_and_rbac_once_and_works_without_cache(
    kube: FakeKubeAPI,
    connect: Callable[..., ConfigMapStore],
    rbac: Callable[[Callable[[str, str], bool]], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = connect(rbac(lambda method, path: "/configmaps" in path))
    with caplog.at_level(logging.WARNING, LOGGER):
        assert store.load(KEY) == {}
        store.save(KEY, CONFIGS)
        store.save(KEY, {**CONFIGS, "cfg-c": config()})
        assert store.load(KEY) == {}
    (warning,) = warnings(caplog)
    assert "Could not get the endpoint-config cache in ConfigMap" in warning
    assert "403 Forbidden" in warning
    assert f"grant the verb `get` on configmaps in namespace {NS}" in warning
    assert "deploy/rbac.yaml" in warning
    assert kube.list_objects("configmaps", NS) == []


def test_without_create_it_names_the_verb_once_per_configmap(
    kube: FakeKubeAPI,
    connect: Callable[..., ConfigMapStore],
    rbac: Callable[[Callable[[str, str], bool]], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = connect(rbac(lambda method, path: method == "POST"))
    other = CacheKey("210987654321", "us-east-1")
    with caplog.at_level(logging.WARNING, LOGGER):
        assert store.load(KEY) == {}
        store.save(KEY, CONFIGS)
        store.save(KEY, {**CONFIGS, "cfg-c": config()})
        store.save(other, CONFIGS)
    found = warnings(caplog)
    assert len(found) == 2, found  # once for each ConfigMap
    assert all("Could not create" in w and "grant the verb `create` on configmaps" in w for w in found)
    assert kube.list_objects("configmaps", NS) == []


def test_without_update_it_names_the_verb(
    kube: FakeKubeAPI,
    connect: Callable[..., ConfigMapStore],
    rbac: Callable[[Callable[[str, str], bool]], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    connect().save(KEY, CONFIGS)
    store = connect(rbac(lambda method, path: method == "PUT"))
    with caplog.at_level(logging.WARNING, LOGGER):
        assert store.load(KEY) == CONFIGS
        store.save(KEY, {"cfg-c": config()})
    (warning,) = warnings(caplog)
    assert "Could not update" in warning and "grant the verb `update` on configmaps" in warning
    assert connect().load(KEY) == CONFIGS  # unchanged, not half-written


def test_an_unreachable_api_is_warned_about_once_and_never_raises(
    connect: Callable[..., ConfigMapStore], caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    store = connect(url)
    with caplog.at_level(logging.WARNING, LOGGER):
        assert store.load(KEY) == {}
        store.save(KEY, CONFIGS)
        store.save(KEY, CONFIGS)
    (warning,) = warnings(caplog)
    assert f"Could not reach the Kubernetes API at {url}" in warning


def test_without_credentials_the_cache_is_off_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    store = ConfigMapStore(NS)
    with caplog.at_level(logging.WARNING, LOGGER):
        assert store.load(KEY) == {}
        store.save(KEY, CONFIGS)
    (warning,) = warnings(caplog)
    assert "no Kubernetes credentials" in warning


# ----- other writers ------------------------------------------------------------------------------


def test_a_write_over_another_writers_change_reads_again_and_replaces(
    kube: FakeKubeAPI, connect: Callable[..., ConfigMapStore]
) -> None:
    store = connect()
    store.save(KEY, CONFIGS)
    # Another replica writes meanwhile: our resourceVersion is stale.
    connect().save(KEY, {"cfg-other": config("ml.p4d.24xlarge")})
    before = len(config_map_requests(kube))

    mine = {**CONFIGS, "cfg-c": config()}
    store.save(KEY, mine)
    requests = config_map_requests(kube)[before:]
    assert [r.method for r in requests] == ["PUT", "GET", "PUT"]  # 409, read again, replace
    assert connect().load(KEY) == mine


def test_a_cleared_cache_is_created_again_by_the_next_change(
    kube: FakeKubeAPI, connect: Callable[..., ConfigMapStore]
) -> None:
    store = connect()
    store.save(KEY, CONFIGS)
    kube.delete("configmaps", NS, store.name(KEY))  # kubectl delete configmap -l ...
    more = {**CONFIGS, "cfg-c": config()}
    store.save(KEY, more)
    assert connect().load(KEY) == more


def test_two_accounts_saved_at_once_from_threads(
    kube: FakeKubeAPI, connect: Callable[..., ConfigMapStore]
) -> None:
    store = connect()
    keys = [CacheKey(f"{n:012d}", region) for n in (1, 2) for region in ("us-east-1", "eu-west-1")]
    rounds = [{f"cfg-{i}": config(seen=T0 + timedelta(minutes=i)) for i in range(n)} for n in (1, 2, 3)]

    def sweep(key: CacheKey) -> None:
        store.load(key)
        for configs in rounds:
            store.save(key, configs)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(sweep, keys * 2))  # each key by two threads at once, too
    for key in keys:
        assert connect().load(key) == rounds[-1]
    assert len(kube.list_objects("configmaps", NS)) == len(keys)


# ----- size ---------------------------------------------------------------------------------------


def test_fifty_thousand_configs_are_bounded_below_the_configmap_limit(
    kube: FakeKubeAPI, connect: Callable[..., ConfigMapStore]
) -> None:
    # Random names compress badly: the document of 50,000 configs is over the bound.
    configs = {
        f"config-{uuid.uuid4().hex}": config(
            f"ml.m5.{i % 7}xlarge", seen=T0 + timedelta(seconds=i), count=i % 9
        )
        for i in range(50_000)
    }
    store = connect()
    store.save(KEY, configs)
    stored = stored_document(kube, store.name(KEY))  # the fake accepted it
    assert len(stored) <= MAX_STORED_BYTES < CONFIG_MAP_MAX_BYTES
    before = len(config_map_requests(kube))
    store.save(KEY, dict(configs))  # the next sweep: nothing new, no request
    assert config_map_requests(kube)[before:] == []

    loaded = connect().load(KEY)
    assert 0 < len(loaded) < len(configs)
    # The most recently seen ones are kept, whole.
    newest = sorted(configs, key=lambda name: configs[name].seen_modified)[-len(loaded) :]
    assert loaded == {name: configs[name] for name in newest}


# ----- the fake refuses what kube-apiserver refuses ------------------------------------------------


def _status(kube: FakeKubeAPI, method: str, path: str, body: Any) -> tuple[int, Any]:
    return kube.request(method, path, body)


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        ({"binaryData": {"k": "not base64!"}}, 400, "illegal base64 data"),
        ({"data": {"k": 1}}, 400, "must be a string"),
        (
            {"data": {"k": "a"}, "binaryData": {"k": "YQ=="}},
            422,
            'ConfigMap "cm" is invalid: data[k]: Invalid value: "k": duplicate of key present in binaryData',
        ),
        ({"data": {"a b": "x"}}, 422, "a valid config key must consist of alphanumeric characters"),
        ({"data": {"..x": "x"}}, 422, "must not start with '..'"),
        (
            {"binaryData": {"big": base64.b64encode(b"\0" * (CONFIG_MAP_MAX_BYTES + 1)).decode()}},
            422,
            'ConfigMap "cm" is invalid: []: Too long: may not be more than 1048576 bytes',
        ),
    ],
    ids=["not-base64", "not-a-string", "key-twice", "bad-key", "dot-dot", "too-long"],
)
def test_the_fake_refuses_configmaps_as_the_api_server_does(
    kube: FakeKubeAPI, content: dict[str, Any], status: int, message: str
) -> None:
    path = f"/api/v1/namespaces/{NS}/configmaps"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, **content}
    code, answer = _status(kube, "POST", path, body)
    assert (code, message in answer["message"]) == (status, True), answer
    # An update is checked as a create is.
    assert kube.request("POST", path, {**body, "data": {}, "binaryData": {}})[0] == 201
    current = kube.get("configmaps", NS, "cm")
    assert current is not None
    code, answer = _status(kube, "PUT", f"{path}/cm", {**current, **content})
    assert (code, message in answer["message"]) == (status, True), answer


def test_the_fake_takes_a_configmap_of_exactly_one_mebibyte_and_keeps_immutable_ones(
    kube: FakeKubeAPI,
) -> None:
    path = f"/api/v1/namespaces/{NS}/configmaps"
    full = base64.b64encode(b"\0" * CONFIG_MAP_MAX_BYTES).decode()  # 1.4 MB of base64 text
    body = {"metadata": {"name": "full"}, "binaryData": {"k": full}, "immutable": True}
    assert kube.request("POST", path, {"apiVersion": "v1", "kind": "ConfigMap", **body})[0] == 201
    current = kube.get("configmaps", NS, "full")
    assert current is not None
    code, answer = kube.request("PUT", f"{path}/full", {**current, "binaryData": {"k": "YQ=="}})
    assert code == 422 and "binaryData: Forbidden: field is immutable" in answer["message"]
