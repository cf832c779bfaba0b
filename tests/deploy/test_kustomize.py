"""`kubectl kustomize deploy/` and `deploy/monitoring/` build, and what they build fits together.

The README installs with `kubectl apply -k deploy/`; a real kustomize refuses what a reading of
the YAML files accepts (files outside the kustomization's root, for one), so the build runs here
with the kubectl on the machine, and the objects it prints are checked as an API server, the
Prometheus Operator and kopf would use them. Every built-in kind is also validated against the
Kubernetes OpenAPI schema (kubernetes-validate, strict: unknown fields fail).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from mlcost.api.crd import KINDS

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "mlcost-system"
IMAGE = "ghcr.io/mlcost/mlcost-operator"
# kubectl's client-side apply stores the whole object in this annotation, and the API server
# refuses annotations over 256 KiB in total (apimachinery's TotalAnnotationSizeLimitB).
ANNOTATION_LIMIT = 262144
BUILTIN_CLUSTER_SCOPED = {
    ("v1", "Namespace"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
}
# kopf's peering engine watches the object and patches its keep-alive in; `mlcost run` creates
# the object when it is missing (kubectl cannot create it in the same apply as its CRD).
PEERING_VERBS = {"get", "list", "watch", "patch", "create"}

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl is not installed: `kubectl kustomize deploy/` cannot be checked on this machine",
)


@cache
def build(path: str) -> tuple[dict[str, Any], ...]:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "kustomize", str(ROOT / path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {path} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def find(objects: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def deployment() -> dict[str, Any]:
    return one(build("deploy"), "Deployment", "mlcost-operator")


def cluster_scoped(objects: tuple[dict[str, Any], ...]) -> set[tuple[str, str]]:
    """Built-in cluster-scoped kinds, plus the kinds of the CRDs in the build that say Cluster."""
    scoped = set(BUILTIN_CLUSTER_SCOPED)
    for crd in find(objects, "CustomResourceDefinition"):
        if crd["spec"]["scope"] == "Cluster":
            for version in crd["spec"]["versions"]:
                scoped.add((f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"]))
    return scoped


def test_both_kustomizations_build() -> None:
    kinds = {o["kind"] for o in build("deploy")}
    assert {
        "CustomResourceDefinition",
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
    } <= kinds
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= {
        o["kind"] for o in build("deploy/monitoring")
    }


def test_the_crds_come_out_exactly_as_in_crds() -> None:
    built = {o["metadata"]["name"]: o for o in find(build("deploy"), "CustomResourceDefinition")}
    files = [p for p in sorted((ROOT / "crds").glob("*.yaml")) if p.name != "kustomization.yaml"]
    assert len(files) == len(KINDS)
    for path in files:
        shipped = yaml.safe_load(path.read_text())
        # Unchanged: no namespace, label or image transformer touched them.
        assert built[shipped["metadata"]["name"]] == shipped, f"{path.name} changed by the build"
    assert {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"} <= built.keys()


def test_namespace_on_every_namespaced_object_and_on_no_cluster_scoped_one() -> None:
    for path in ("deploy", "deploy/monitoring"):
        objects = build(path) + (build("deploy") if path != "deploy" else ())
        scoped = cluster_scoped(objects)
        for obj in build(path):
            key = (obj["apiVersion"], obj["kind"])
            where = f"{path}: {obj['kind']} {obj['metadata']['name']}"
            if key in scoped:
                assert "namespace" not in obj["metadata"], f"{where} is cluster-scoped but has a namespace"
            else:
                assert obj["metadata"].get("namespace") == NAMESPACE, f"{where} is not in {NAMESPACE}"


def test_every_image_is_set_by_the_images_transformer() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    pods = [
        o["spec"]["template"]["spec"] for o in build("deploy") if o["kind"] in {"Deployment", "StatefulSet"}
    ]
    containers = [c for pod in pods for c in pod.get("initContainers", []) + pod["containers"]]
    assert containers
    for container in containers:
        # The release's image, tagged with the package's version (a bump changes both).
        assert container["image"] == f"{IMAGE}:{version}", container["image"]


def test_the_service_and_the_pdb_select_the_operator_pods() -> None:
    objects = build("deploy")
    template = deployment()["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert deployment()["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one(objects, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # One replica may go (a drain), never both.
    assert pdb["spec"]["minAvailable"] == 1 and deployment()["spec"]["replicas"] >= 2


def test_the_servicemonitor_scrapes_the_metrics_service() -> None:
    service = one(build("deploy"), "Service")
    monitor = one(build("deploy/monitoring"), "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    wanted = (
        monitor["spec"].get("namespaceSelector", {}).get("matchNames", [monitor["metadata"]["namespace"]])
    )
    assert service["metadata"]["namespace"] in wanted
    port_names = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint.get("port") in port_names, (
            f"ServiceMonitor port {endpoint.get('port')} not a Service port"
        )


def test_rbac_binds_the_service_account_the_pods_run_as_and_covers_peering() -> None:
    objects = build("deploy")
    account = one(objects, "ServiceAccount")
    assert deployment()["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    binding = one(objects, "ClusterRoleBinding")
    assert {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE} in binding[
        "subjects"
    ]
    role = one(objects, "ClusterRole", binding["roleRef"]["name"])
    for resource in ("clusterkopfpeerings", "kopfpeerings"):
        verbs = {
            verb
            for rule in role["rules"]
            if "kopf.dev" in rule.get("apiGroups", []) and resource in rule.get("resources", [])
            for verb in rule["verbs"]
        }
        assert verbs >= PEERING_VERBS, f"{resource}: {sorted(verbs)}"


def test_the_peering_crds_are_shipped_and_no_peering_object() -> None:
    objects = build("deploy")
    crds = {o["metadata"]["name"]: o for o in find(objects, "CustomResourceDefinition")}
    for name, kind, scope in (
        ("clusterkopfpeerings.kopf.dev", "ClusterKopfPeering", "Cluster"),
        ("kopfpeerings.kopf.dev", "KopfPeering", "Namespaced"),
    ):
        spec = crds[name]["spec"]
        assert (spec["group"], spec["names"]["kind"], spec["scope"]) == ("kopf.dev", kind, scope)
        assert [v["name"] for v in spec["versions"] if v["served"] and v["storage"]] == ["v1"]
        # kopf keeps the keep-alives in status: a structural schema must not prune them.
        status = spec["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert status.get("x-kubernetes-preserve-unknown-fields") is True, name
    # No object of a kind whose CRD comes in the same apply: `kubectl apply -k deploy/` on a fresh
    # cluster refuses it ("ensure CRDs are installed first"). The operator creates the peering.
    defined = {(crd["spec"]["group"], crd["spec"]["names"]["kind"]) for crd in crds.values()}
    same_apply = [o for o in objects if (o["apiVersion"].split("/")[0], o["kind"]) in defined]
    assert not same_apply, [f"{o['kind']} {o['metadata']['name']}" for o in same_apply]
    env = {e["name"]: e for e in deployment()["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLCOST_PEERING"]["value"] == "mlcost"
    # kopf names each replica in the peering after POD_ID: the pod's name.
    assert env["POD_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_the_pod_runs_read_only_as_the_images_user() -> None:
    spec = deployment()["spec"]
    pod = spec["template"]["spec"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {pod["securityContext"][k] for k in ("runAsUser", "runAsGroup", "fsGroup")} == {10001}
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume
    # Long enough for kopf to leave the peering on SIGTERM (one PATCH) after its handlers stop.
    assert pod["terminationGracePeriodSeconds"] >= 30


def test_every_object_fits_kubectls_client_side_apply() -> None:
    for obj in build("deploy") + build("deploy/monitoring"):
        size = len(json.dumps(obj, separators=(",", ":")))
        assert size < ANNOTATION_LIMIT, (
            f"{obj['kind']} {obj['metadata']['name']}: {size} bytes; `kubectl apply` would fail on its "
            "last-applied-configuration annotation: document `kubectl apply --server-side -k deploy/`"
        )


def test_the_gitops_samples_install_what_kustomize_builds() -> None:
    gitops = ROOT / "deploy" / "gitops"
    application = yaml.safe_load((gitops / "argocd-application.yaml").read_text())
    assert application["spec"]["source"]["path"] == "deploy"
    assert application["spec"]["destination"]["namespace"] == NAMESPACE
    assert "ServerSideApply=true" in application["spec"]["syncPolicy"]["syncOptions"]
    flux = {d["kind"]: d for d in yaml.safe_load_all((gitops / "flux-kustomization.yaml").read_text()) if d}
    kustomization, source = flux["Kustomization"], flux["GitRepository"]
    assert (ROOT / kustomization["spec"]["path"] / "kustomization.yaml").is_file()
    assert kustomization["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert kustomization["spec"]["wait"] is True and kustomization["spec"]["prune"] is True
    # The argocd-cm patch is a plain ConfigMap.
    kubernetes_validate.validate(
        yaml.safe_load((gitops / "argocd-cm-health.yaml").read_text()),
        kubernetes_validate.utils.latest_version(),
        strict=True,
    )


@pytest.mark.parametrize("version", ["1.30", kubernetes_validate.utils.latest_version()])
def test_every_builtin_object_is_valid_for_kubernetes(version: str) -> None:
    validated = set()
    for obj in build("deploy") + build("deploy/monitoring"):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            # Custom kinds (ServiceMonitor, PrometheusRule): their CRDs' schemas.
            assert obj["apiVersion"].split("/")[0] == "monitoring.coreos.com", obj["kind"]
            continue
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']} is invalid for Kubernetes {version}: {exc}")
        validated.add(obj["kind"])
    assert {
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "ClusterRole",
        "CustomResourceDefinition",
    } <= validated


def test_the_operator_keeps_its_endpoint_config_cache_in_its_namespace() -> None:
    objects = build("deploy")
    binding = one(objects, "RoleBinding")
    role = one(objects, "Role", binding["roleRef"]["name"])
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == NAMESPACE
    assert {"kind": "ServiceAccount", "name": "mlcost-operator", "namespace": NAMESPACE} in binding[
        "subjects"
    ]
    verbs = {
        v
        for r in role["rules"]
        if "" in r["apiGroups"] and "configmaps" in r["resources"]
        for v in r["verbs"]
    }
    assert verbs == {"get", "create", "update"}
    # The Deployment tells the operator which namespace that is.
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["MLCOST_OPERATOR_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
