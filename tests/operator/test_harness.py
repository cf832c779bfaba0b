"""Proof that the fake Kubernetes API behaves like a real one where kopf cares, and that the
harness runs the real kopf operator (tests/kube/sample_operator.py) against it."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube.fake_api import JSON_PATCH, FakeKubeAPI, KubeAPIError, crd_manifest
from tests.kube.harness import RunOperator

CRDS = Path(__file__).resolve().parents[2] / "crds"
SAMPLE = "tests.kube.sample_operator"
NS = "team-a"
KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"
SWEPT = "2026-11-27T10:00:00Z"  # a status field the MLCostPolicy schema has (status.lastSweep)


def policy(name: str = "p1", spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mlcost.io/v1alpha1",
        "kind": "MLCostPolicy",
        "metadata": {"name": name, "namespace": NS, **meta},
        "spec": spec if spec is not None else {"mode": "Audit"},
    }


def observed(generation: int) -> Any:
    def check(obj: dict[str, Any] | None) -> bool:
        status = (obj or {}).get("status", {})
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        return status.get("observedGeneration") == generation and bool(ready and ready[0]["status"] == "True")

    return check


# ----- the fake API on its own ---------------------------------------------------------------


def test_create_stamps_metadata_and_drops_status(kube: FakeKubeAPI) -> None:
    created = kube.create(policy() | {"status": {"phase": "Fake"}})
    meta = created["metadata"]
    assert meta["generation"] == 1
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert "status" not in created  # the status subresource ignores status on create
    assert kube.get("mlcostpolicies", NS, "p1") == created
    assert kube.get("namespaces", None, NS) is not None  # created on the fly
    with pytest.raises(KubeAPIError) as err:
        kube.create(policy())
    assert err.value.status == 409
    assert err.value.body["reason"] == "AlreadyExists"


def test_lists_come_in_pages_when_asked(kube: FakeKubeAPI) -> None:
    for name in ("p3", "p1", "p5", "p2", "p4"):
        kube.create(policy(name))
    path = kube.resource("mlcostpolicies").url(NS)
    status, first = kube.request("GET", f"{path}?limit=2")
    assert status == 200 and [o["metadata"]["name"] for o in first["items"]] == ["p1", "p2"]
    assert first["metadata"]["remainingItemCount"] == 3
    names, page = [], first
    while page["metadata"].get("continue"):
        names += [o["metadata"]["name"] for o in page["items"]]
        status, page = kube.request("GET", f"{path}?limit=2&continue={page['metadata']['continue']}")
        assert status == 200
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    names += [o["metadata"]["name"] for o in page["items"]]
    assert names == ["p1", "p2", "p3", "p4", "p5"]
    assert "continue" not in page["metadata"] and "remainingItemCount" not in page["metadata"]
    status, whole = kube.request("GET", path)
    assert len(whole["items"]) == 5 and "continue" not in whole["metadata"]
    status, body = kube.request("GET", f"{path}?limit=2&continue=garbage")
    assert status == 400 and "continue" in body["message"]


def test_generation_counts_spec_changes_only(kube: FakeKubeAPI) -> None:
    rv0 = kube.create(policy())["metadata"]["resourceVersion"]

    after_status = kube.patch_status("mcp", NS, "p1", {"lastSweep": SWEPT})
    assert after_status["status"] == {"lastSweep": SWEPT}
    assert after_status["metadata"]["generation"] == 1
    assert int(after_status["metadata"]["resourceVersion"]) > int(rv0)

    after_labels = kube.patch("mcp", NS, "p1", {"metadata": {"labels": {"team": "a"}}})
    assert after_labels["metadata"]["generation"] == 1

    # The main resource cannot change the status, the status subresource cannot change spec.
    ignored = kube.patch("mcp", NS, "p1", {"status": {"lastSweep": "2000-01-01T00:00:00Z"}})
    assert ignored["status"] == {"lastSweep": SWEPT}
    ignored = kube.patch("mcp", NS, "p1", {"spec": {"mode": "Enforce"}}, subresource="status")
    assert ignored["spec"]["mode"] == "Audit"

    after_spec = kube.patch_spec("mcp", NS, "p1", {"mode": "Enforce"})
    assert after_spec["metadata"]["generation"] == 2
    assert after_spec["status"] == {"lastSweep": SWEPT}

    # A no-op write creates no new version.
    noop = kube.patch_spec("mcp", NS, "p1", {"mode": "Enforce"})
    assert noop["metadata"]["resourceVersion"] == after_spec["metadata"]["resourceVersion"]


def test_stale_resource_version_is_rejected(kube: FakeKubeAPI) -> None:
    stale = kube.create(policy())["metadata"]["resourceVersion"]
    fresh = kube.patch_spec("mcp", NS, "p1", {"mode": "Enforce"})["metadata"]["resourceVersion"]
    add_finalizer = [{"op": "add", "path": "/metadata/finalizers", "value": ["x.io/f"]}]

    # What kopf sends for finalizers: a JSON patch guarded by a resourceVersion test -> 422.
    with pytest.raises(KubeAPIError) as err:
        kube.patch(
            "mcp",
            NS,
            "p1",
            [{"op": "test", "path": "/metadata/resourceVersion", "value": stale}, *add_finalizer],
            content_type=JSON_PATCH,
        )
    assert err.value.status == 422
    assert err.value.body["reason"] == "Invalid"
    assert "finalizers" not in kube.get("mcp", NS, "p1")["metadata"]  # type: ignore[index]

    patched = kube.patch(
        "mcp",
        NS,
        "p1",
        [{"op": "test", "path": "/metadata/resourceVersion", "value": fresh}, *add_finalizer],
        content_type=JSON_PATCH,
    )
    assert patched["metadata"]["finalizers"] == ["x.io/f"]

    # Merge patches and PUTs with a stale resourceVersion: 409 Conflict.
    with pytest.raises(KubeAPIError) as err:
        kube.patch("mcp", NS, "p1", {"metadata": {"resourceVersion": stale}, "spec": {}})
    assert err.value.status == 409
    with pytest.raises(KubeAPIError) as err:
        kube.replace(policy(resourceVersion=stale))
    assert err.value.status == 409


def test_replace_keeps_status_and_bumps_generation(kube: FakeKubeAPI) -> None:
    kube.create(policy())
    kube.patch_status("mcp", NS, "p1", {"lastSweep": SWEPT})
    current = kube.get("mcp", NS, "p1")
    assert current is not None
    current["spec"] = {"mode": "Enforce"}
    current["status"] = {"lastSweep": "2000-01-01T00:00:00Z"}
    replaced = kube.replace(current)
    assert replaced["spec"]["mode"] == "Enforce"
    assert replaced["status"] == {"lastSweep": SWEPT}
    assert replaced["metadata"]["generation"] == 2
    with pytest.raises(KubeAPIError) as err:  # custom resources need a resourceVersion on PUT
        kube.replace(policy())
    assert err.value.status == 422


def test_deletion_waits_for_finalizers(kube: FakeKubeAPI) -> None:
    kube.create(policy(finalizers=["x.io/f"]))
    deleting = kube.delete("mcp", NS, "p1")
    assert deleting["metadata"]["deletionTimestamp"]
    assert deleting["metadata"]["generation"] == 2  # as kube-apiserver does
    assert kube.get("mcp", NS, "p1") is not None
    with pytest.raises(KubeAPIError) as err:
        kube.patch("mcp", NS, "p1", {"metadata": {"finalizers": ["x.io/f", "x.io/new"]}})
    assert err.value.status == 422
    kube.patch("mcp", NS, "p1", {"metadata": {"finalizers": None}})
    assert kube.get("mcp", NS, "p1") is None
    assert kube.history("mcp", NS, "p1")[-1] is None
    with pytest.raises(KubeAPIError) as err:
        kube.delete("mcp", NS, "p1")
    assert err.value.status == 404


def test_watch_resumes_after_a_resource_version(kube: FakeKubeAPI) -> None:
    kube.create(policy("before"))
    since = kube.list_objects("mcp", NS)[0]["metadata"]["resourceVersion"]
    kube.create(policy("after"))
    kube.patch_status("mcp", NS, "after", {"lastSweep": SWEPT})
    kube.delete("mcp", NS, "before")
    path = kube.resource("mcp").url(NS)
    status, body = kube.request("GET", f"{path}?watch=true&resourceVersion={since}&timeoutSeconds=1")
    assert status == 200
    lines = body.splitlines() if isinstance(body, str) else [json.dumps(body)]
    events = [(e["type"], e["object"]["metadata"]["name"]) for e in map(json.loads, lines)]
    assert events == [("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "before")]


def test_crd_created_through_the_api_is_served(kube: FakeKubeAPI) -> None:
    crd = crd_manifest(group="example.com", version="v1", kind="Widget", plural="widgets")
    kube.create(crd)
    status, discovery = kube.request("GET", "/apis/example.com/v1")
    assert status == 200
    assert {r["name"] for r in discovery["resources"]} == {"widgets", "widgets/status"}
    kube.create({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert kube.get("widgets", "default", "w") is not None


# ----- the fake API enforces CRDs as a real server does -----------------------------------------

METADATA_REFUSED = (
    "spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other "
    "than name and generateName, but metadata is implicitly specified"
)


def _widget_crd_with_root_metadata_description() -> dict[str, Any]:
    crd = crd_manifest(group="example.com", version="v1", kind="Widget", plural="widgets")
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "description": "Standard object metadata."},
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    return crd


def test_crd_refused_by_a_real_server_is_refused(kube: FakeKubeAPI) -> None:
    with pytest.raises(KubeAPIError) as err:
        kube.create(_widget_crd_with_root_metadata_description())
    assert err.value.status == 422
    assert err.value.body["reason"] == "Invalid"
    assert err.value.body["message"] == (
        f'CustomResourceDefinition.apiextensions.k8s.io "widgets.example.com" is invalid: {METADATA_REFUSED}'
    )
    assert kube.get("customresourcedefinitions", None, "widgets.example.com") is None
    status, _ = kube.request("GET", "/apis/example.com/v1")
    assert status == 404  # nothing was declared


@pytest.mark.writes_unknown_fields
def test_crd_update_is_checked_and_its_new_schema_applies(kube: FakeKubeAPI) -> None:
    crd = crd_manifest(group="example.com", version="v1", kind="Widget", plural="widgets")
    kube.create(crd)
    kube.create(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1}}
    )
    bad = _widget_crd_with_root_metadata_description()
    with pytest.raises(KubeAPIError) as err:
        kube.patch("crds", None, "widgets.example.com", {"spec": bad["spec"]})
    assert err.value.status == 422 and METADATA_REFUSED in err.value.body["message"]
    # A valid schema that specifies only spec.b: from now on, writes are pruned by it.
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"b": {"type": "integer", "default": 2}}}},
    }
    kube.patch("crds", None, "widgets.example.com", {"spec": {"versions": [crd["spec"]["versions"][0] | {
        "schema": {"openAPIV3Schema": schema}}]}})  # fmt: skip
    written = kube.patch("widgets", "default", "w", {"metadata": {"labels": {"x": "y"}}})
    assert written["spec"] == {"b": 2}


def test_fake_refuses_to_start_with_an_invalid_default_crd() -> None:
    with pytest.raises(KubeAPIError) as err, FakeKubeAPI(crds=[_widget_crd_with_root_metadata_description()]):
        pass
    assert METADATA_REFUSED in str(err.value)


def test_project_crds_are_the_shipped_files(kube: FakeKubeAPI) -> None:
    for path in sorted(CRDS.glob("mlcost.io_*.yaml")):
        shipped = yaml.safe_load(path.read_text())
        served = kube.get("customresourcedefinitions", None, shipped["metadata"]["name"])
        assert served is not None
        assert served["spec"] == shipped["spec"]


@pytest.mark.writes_unknown_fields
def test_status_fields_missing_from_the_schema_vanish(kube: FakeKubeAPI) -> None:
    kube.create(policy())
    written = kube.patch_status(
        "mcp",
        NS,
        "p1",
        {
            "observedGeneration": 1,
            "lastSweep": SWEPT,
            "phase": "Ready",
            "budget": {"limit": "5", "owner": "x"},
        },
    )
    # As on a cluster: the operator's write "succeeds", the unknown fields are simply gone.
    assert written["status"] == {"observedGeneration": 1, "lastSweep": SWEPT, "budget": {"limit": "5"}}
    assert kube.get("mcp", NS, "p1")["status"] == written["status"]  # type: ignore[index]


@pytest.mark.writes_unknown_fields
def test_unknown_spec_and_metadata_fields_are_pruned_and_defaults_applied(kube: FakeKubeAPI) -> None:
    created = kube.create(policy(spec={"colour": "red"}) | {"extra": 1})
    assert "extra" not in created and "colour" not in created["spec"]
    # The schema's defaults, applied by the server (nested ones through `default: {}`).
    assert created["spec"]["mode"] == "Audit"
    assert created["spec"]["resyncInterval"] == "10m"
    assert created["spec"]["enforcement"]["gracePeriod"] == "1d"
    patched = kube.patch("mcp", NS, "p1", {"metadata": {"labels": {"a": "b"}, "bogus": 1}})
    assert patched["metadata"]["labels"] == {"a": "b"} and "bogus" not in patched["metadata"]
    # Removing a defaulted field brings the default back; the write is then a no-op.
    again = kube.patch_spec("mcp", NS, "p1", {"mode": None})
    assert again["spec"]["mode"] == "Audit"
    assert again["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]


def test_strict_field_validation_refuses_unknown_fields(kube: FakeKubeAPI) -> None:
    kube.create(policy())
    spec = kube.resource("mcp")
    status, body = kube.request(
        "PATCH",
        spec.url(NS, "p1", "status") + "?fieldValidation=Strict",
        {"status": {"phase": "Ready"}},
        content_type="application/merge-patch+json",
    )
    assert status == 422
    assert body["message"] == 'strict decoding error: unknown field "status.phase"'


# ----- the real kopf operator against the fake ------------------------------------------------


async def test_operator_reports_status_and_event_on_create(
    kube: FakeKubeAPI, run_operator: RunOperator
) -> None:
    async with run_operator(SAMPLE) as op:
        assert op.watched == {"mlcostpolicies"}
        kube.create(policy())
        obj = await kube.wait_for("mlcostpolicies", NS, "p1", observed(1))
        assert obj is not None
        assert KOPF_FINALIZER in obj["metadata"]["finalizers"]
        event = (await kube.wait_until(lambda: kube.events(name="p1", reason="Reconciled")))[0]
        assert event["type"] == "Normal"
        assert event["message"] == "create: generation 1"
        assert event["involvedObject"]["kind"] == "MLCostPolicy"
        assert event["involvedObject"]["namespace"] == NS
        assert event["involvedObject"]["uid"] == obj["metadata"]["uid"]
        ((cause, name, generation, spec),) = op.module.SEEN
        assert (cause, name, generation, spec["mode"]) == ("create", "p1", 1, "Audit")
        assert spec["resyncInterval"] == "10m"  # the operator sees the CRD's defaults, as on a cluster

    # kopf guarded its finalizer JSON patch with the resourceVersion that the fake stamped.
    json_patches = [
        json.loads(r.body)
        for r in kube.requests()
        if r.method == "PATCH" and r.content_type.startswith(JSON_PATCH)
    ]
    assert any(
        ops[0]["op"] == "test" and ops[0]["path"] == "/metadata/resourceVersion" and ops[0]["value"]
        for ops in json_patches
    )


async def test_operator_sees_spec_update_with_new_generation(
    kube: FakeKubeAPI, run_operator: RunOperator
) -> None:
    async with run_operator(SAMPLE) as op:
        kube.create(policy())
        await kube.wait_for("mcp", NS, "p1", observed(1))
        kube.patch_spec("mcp", NS, "p1", {"mode": "Enforce"})
        obj = await kube.wait_for("mcp", NS, "p1", observed(2))
        assert obj is not None and obj["metadata"]["generation"] == 2
        cause, name, generation, spec = op.module.SEEN[-1]
        assert (cause, name, generation, spec["mode"]) == ("update", "p1", 2, "Enforce")
        await kube.wait_until(lambda: kube.events(name="p1", reason="Reconciled")[1:])
        assert kube.events(name="p1")[-1]["message"] == "update: generation 2"


async def test_operator_status_patches_do_not_bump_generation(
    kube: FakeKubeAPI, run_operator: RunOperator
) -> None:
    async with run_operator(SAMPLE):
        created = kube.create(policy())
        obj = await kube.wait_for("mcp", NS, "p1", observed(1))
        assert obj is not None
        assert obj["metadata"]["generation"] == 1  # finalizer, annotations, status: no spec
        assert int(obj["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
        status_writes = [r for r in kube.requests() if r.method == "PATCH" and r.subresource == "status"]
        assert status_writes  # kopf found the status subresource and used it


async def test_operator_finalizer_runs_on_delete(kube: FakeKubeAPI, run_operator: RunOperator) -> None:
    async with run_operator(SAMPLE) as op:
        kube.create(policy())
        await kube.wait_for("mcp", NS, "p1", observed(1))
        kube.delete("mcp", NS, "p1")
        await kube.wait_for("mcp", NS, "p1", lambda obj: obj is None)
        assert op.module.DELETED == ["p1"]
        await kube.wait_until(lambda: kube.events(name="p1", reason="Deleting"))
        versions = [v for v in kube.history("mcp", NS, "p1") if v is not None]
        assert versions[-1]["metadata"]["deletionTimestamp"]
        assert versions[-1]["metadata"].get("finalizers", []) == []


async def test_operator_timer_ticks(kube: FakeKubeAPI, run_operator: RunOperator) -> None:
    async with run_operator(SAMPLE) as op:
        kube.create(policy())
        await kube.wait_until(lambda: op.module.TICKS.get("p1", 0) >= 2, timeout=3)


async def test_each_run_has_fresh_handlers_and_state(kube: FakeKubeAPI, run_operator: RunOperator) -> None:
    async with run_operator(SAMPLE) as first:
        kube.create(policy("a"))
        await kube.wait_for("mcp", NS, "a", observed(1))
    async with run_operator(SAMPLE, configure=lambda s: None) as second:
        assert second.module is not first.module
        assert second.module.SEEN == []
        kube.create(policy("b"))
        await kube.wait_for("mcp", NS, "b", observed(1))
        # One handler per cause: had the first run's handlers leaked, "b" were seen twice.
        assert [seen[1] for seen in second.module.SEEN] == ["b"]
        assert second.settings.queueing.exit_timeout == 0.5  # the harness's fast settings


async def test_missing_operator_module_fails_fast(kube: FakeKubeAPI, run_operator: RunOperator) -> None:
    with pytest.raises(ModuleNotFoundError):
        async with run_operator("tests.kube.no_such_operator"):
            pass


async def test_operator_serves_one_namespace(kube: FakeKubeAPI, run_operator: RunOperator) -> None:
    async with run_operator(SAMPLE, namespace=NS) as op:
        assert [w.namespace for w in kube.watches("mlcostpolicies")] == [NS]
        kube.create(policy("elsewhere") | {"metadata": {"name": "elsewhere", "namespace": "x"}})
        kube.create(policy("here"))
        await kube.wait_for("mcp", NS, "here", observed(1))
        assert "status" not in (kube.get("mcp", "x", "elsewhere") or {})
        assert [seen[1] for seen in op.module.SEEN] == ["here"]


async def test_operator_leaves_no_threads_behind(kube: FakeKubeAPI, run_operator: RunOperator) -> None:
    def ours() -> set[threading.Thread]:  # the test loop's own to_thread pool aside
        return {t for t in threading.enumerate() if not t.name.startswith("asyncio_")}

    before = ours()
    async with run_operator(SAMPLE) as op:
        kube.create(policy())
        await kube.wait_for("mcp", NS, "p1", observed(1))
        assert ours() - before  # kopf's thread (at least) is running now
    assert not op.running
    await kube.wait_until(lambda: ours() == before, timeout=2)


def test_core_namespace_urls(kube: FakeKubeAPI) -> None:
    kube.create(policy())  # creates its namespace on the fly
    status, listing = kube.request("GET", "/api/v1/namespaces")
    assert status == 200
    assert {ns["metadata"]["name"] for ns in listing["items"]} == {NS}
    status, namespace = kube.request("GET", f"/api/v1/namespaces/{NS}")
    assert (status, namespace["status"]) == (200, {"phase": "Active"})
    assert kube.request("PUT", "/not/kubernetes", {})[0] == 404
