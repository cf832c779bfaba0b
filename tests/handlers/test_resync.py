"""The resync scheduler's pieces: who it thinks acts (kopf's peering rule), and its requests to
the API server (read, status patch, Events, peering) against the fake API, which refuses what a
real API server refuses."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlcost.handlers.kube_objects import MAX_EVENT_MESSAGE, REPORTING_COMPONENT, KubeError, KubeObjects
from mlcost.handlers.resync import outranked
from mlcost.reconcile.results import Event, EventType
from tests.kube.fake_api import FakeKubeAPI, KubeAPIError
from tests.kube.harness import declare_peering

NS = "team-a"
PLURAL = "mlcostpolicies"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
OURS = -1_000


def peer(priority: int, seen_ago: float = 1.0, lifetime: int = 60) -> dict[str, Any]:
    return {
        "priority": priority,
        "lifetime": lifetime,
        "lastseen": (NOW - timedelta(seconds=seen_ago)).isoformat(),
    }


# ----- kopf's peering rule -------------------------------------------------------------------


def test_alone_or_with_lower_peers_it_acts() -> None:
    assert not outranked({}, OURS, NOW)
    assert not outranked({"us": peer(OURS)}, OURS, NOW)
    assert not outranked({"us": peer(OURS), "newer": peer(OURS - 5)}, OURS, NOW)


def test_a_live_higher_peer_or_a_freeze_holds_it() -> None:
    assert outranked({"us": peer(OURS), "older": peer(OURS + 5)}, OURS, NOW)
    # `kopf freeze` writes a peer of priority 100 by default; ours are negative.
    assert outranked({"us": peer(OURS), "freeze": peer(100, lifetime=3600)}, OURS, NOW)


def test_a_dead_higher_peer_does_not() -> None:
    assert not outranked({"us": peer(OURS), "gone": peer(OURS + 5, seen_ago=61, lifetime=60)}, OURS, NOW)


def test_a_tie_holds_it_as_kopf_pauses_both() -> None:
    assert outranked({"us": peer(OURS), "twin": peer(OURS)}, OURS, NOW)


def test_unreadable_entries_are_ignored() -> None:
    peers: dict[str, Any] = {"us": peer(OURS), "junk": "x", "no-time": {"priority": 999}}
    assert not outranked(peers, OURS, NOW)


# ----- the requests, against the fake API ----------------------------------------------------


@pytest.fixture
def objects(kube: FakeKubeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KubeObjects:
    kubeconfig = kube.kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return KubeObjects()


def a_policy(kube: FakeKubeAPI) -> dict[str, Any]:
    return kube.create(
        {
            "apiVersion": "mlcost.io/v1alpha1",
            "kind": "MLCostPolicy",
            "metadata": {"name": "p1", "namespace": NS},
            "spec": {"mode": "Audit"},
        }
    )


def involved(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
    }


def test_read_and_patch_the_status(kube: FakeKubeAPI, objects: KubeObjects) -> None:
    created = a_policy(kube)
    assert objects.get(PLURAL, NS, "p1") == created
    assert objects.get(PLURAL, NS, "missing") is None

    swept = "2026-12-02T12:00:00Z"
    assert objects.patch_status(PLURAL, NS, "p1", {"lastSweep": swept, "observedGeneration": 1})
    stored = kube.get(PLURAL, NS, "p1")
    assert stored["status"] == {"lastSweep": swept, "observedGeneration": 1}
    assert stored["metadata"]["generation"] == 1  # the status subresource: no new generation
    assert not objects.patch_status(PLURAL, NS, "missing", {"lastSweep": swept})


def test_a_status_the_schema_refuses_is_an_error_that_says_why(
    kube: FakeKubeAPI, objects: KubeObjects
) -> None:
    a_policy(kube)
    with pytest.raises(KubeError) as err:
        objects.patch_status(PLURAL, NS, "p1", {"observedGeneration": "not a number"})
    assert "422" in str(err.value) and "observedGeneration" in str(err.value)


def test_events_are_posted_as_the_api_server_takes_them(kube: FakeKubeAPI, objects: KubeObjects) -> None:
    obj = a_policy(kube)
    long = "x" * 3000
    objects.post_events(
        involved(obj),
        [
            Event(EventType.NORMAL, "BudgetDriftReverted", "The limit was put back to 5000."),
            Event(EventType.WARNING, "Throttled", long),
        ],
    )
    posted = kube.events(name="p1")
    assert [(e["type"], e["reason"]) for e in posted] == [
        ("Normal", "BudgetDriftReverted"),
        ("Warning", "Throttled"),
    ]
    first = posted[0]
    assert first["involvedObject"]["uid"] == obj["metadata"]["uid"]
    assert first["source"]["component"] == REPORTING_COMPONENT  # `kubectl describe`'s From column
    assert first["metadata"]["namespace"] == NS
    cut = posted[1]["message"]
    assert len(cut) == MAX_EVENT_MESSAGE and "..." in cut


def test_a_refused_event_is_logged_not_raised(
    kube: FakeKubeAPI, objects: KubeObjects, caplog: pytest.LogCaptureFixture
) -> None:
    obj = a_policy(kube)
    objects.post_events(involved(obj), [Event(EventType.NORMAL, "R" * 200, "too long a reason")])
    assert kube.events(name="p1") == []
    assert "the Event is lost" in caplog.text and "422" in caplog.text


def test_the_peering_is_read_cluster_wide_and_per_namespace(kube: FakeKubeAPI, objects: KubeObjects) -> None:
    assert objects.peers("mlcost", None) is None  # not there: kopf stays passive, so do resyncs
    plural = declare_peering(kube, "mlcost")
    kube.patch(plural, None, "mlcost", {"status": {"someone": peer(5)}})  # as kopf keeps it
    assert objects.peers("mlcost", None) == {"someone": peer(5)}
    declare_peering(kube, "mlcost", NS)
    assert objects.peers("mlcost", NS) == {}


def test_an_unreachable_api_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        """apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "http://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
"""
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with pytest.raises(KubeError) as err:
        KubeObjects().get(PLURAL, NS, "p1")
    assert str(err.value).startswith(f"read {PLURAL} {NS}/p1: ")


# ----- the fake refuses the Events a real API server refuses ---------------------------------


def kopf_like_event(obj: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"namespace": NS, "generateName": "kopf-event-"},
        "action": "Action?",
        "type": "Normal",
        "reason": "Logging",
        "message": "hello",
        "reportingComponent": "kopf",
        "reportingInstance": "dev",
        "source": {"component": "kopf"},
        "involvedObject": involved(obj),
        "firstTimestamp": now.isoformat(),
        "lastTimestamp": now.isoformat(),
        "eventTime": now.replace(microsecond=123456).isoformat(),
    }


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"reportingComponent": None}, 422, "reportingComponent: Required value"),
        ({"reportingComponent": "-bad-"}, 422, "reportingComponent: Invalid value"),
        ({"reportingInstance": None}, 422, "reportingInstance: Required value"),
        ({"action": None}, 422, "action: Required value"),
        ({"message": "m" * 1025}, 422, "message: Invalid value"),
        ({"eventTime": "2026-12-02T12:00:00.123Z"}, 400, "RFC3339Micro"),
        ({"eventTime": "2026-12-02T12:00:00+00:00"}, 400, "RFC3339Micro"),
        (
            {"eventTime": None, "metadata": {"namespace": "other", "generateName": "e-"}},
            422,
            "involvedObject",
        ),
    ],
)
def test_the_fake_refuses_an_event_the_api_server_refuses(
    kube: FakeKubeAPI, change: dict[str, Any], status: int, says: str
) -> None:
    obj = a_policy(kube)
    kube.create(kopf_like_event(obj))  # as kopf posts: accepted
    event = copy.deepcopy(kopf_like_event(obj))
    for key, value in change.items():
        if value is None:
            event.pop(key)
        else:
            event[key] = value
    with pytest.raises(KubeAPIError) as err:
        kube.create(event)
    assert err.value.status == status
    assert says in err.value.body["message"]
