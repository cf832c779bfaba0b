"""Benchmark: the operator's memory when it starts with a backlog of policies (issue 10 item 6).

    .venv/bin/python bench/backlog.py [--policies 200 500] [--resources 10000] [--teams 20]
        [--modes backlog gradual] [--settle 60] [--batch 10] [--probe DIR] [--env K=V ...]

Three processes, so that each figure is the operator's alone: the embedded AWS (moto, seeded
with bench/seed.py) in one child; the fake Kubernetes API (tests/kube/fake_api.py, the project's
CRDs) in this process; the real operator (`python -m mlcost run --standalone`, KUBECONFIG at the
fake API, MLCOST_AWS_ENDPOINT_URL at the embedded AWS) in another child, whose VmRSS and VmHWM
(/proc/<pid>/status) are sampled every 0.2 s.

`backlog`: all P policies exist, without status, before the operator starts (a first install
into a busy cluster). `restart`: a first operator brings them all to Ready and stops, and the
measured one starts with P policies carrying their full status (a restart after an outage; the
endpoint-config cache survives, as the ConfigMap does in a cluster). `gradual`: the operator
starts with none, and they are created in batches of `--batch`, each batch once the one before
it is Ready. The run ends `--settle` seconds after every policy is Ready (status.observedGeneration
1, Ready=True; after a restart, reconciled again by the measured operator: status.lastSweep).

Each policy is realistic: a budget filtered by its team tag, required tags, notebook, training
and idle-endpoint rules, over its team's share of one embedded account (`--teams` namespaces).
Each run has its own policy names (and so budgets), so runs share the seeded account.

`--probe DIR` writes, every 10 s, what holds the operator's memory to DIR: glibc malloc's
heap and mmapped bytes, in use and free (mallinfo2, all arenas), pymalloc's arenas (Python
objects up to 512 bytes), object counts by type, threads. The probe walks every object each
time (gc.get_objects), so it slows the operator a little. `--probe-sites N` adds the largest
allocation sites (tracemalloc, N frames): much slower, and it adds memory of its own.
`--env K=V` passes a setting to the operator (e.g. MALLOC_ARENA_MAX=2,
MLCOST_MAX_CONCURRENT_RECONCILES=4).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]  # tests.kube (the fake API) is importable from the repository root

PLURAL = "mlcostpolicies"
PROBE_ENV = "BENCH_BACKLOG_PROBE_DIR"
PROBE_SITES_ENV = "BENCH_BACKLOG_PROBE_SITES"


def policy(run: str, index: int, teams: int) -> dict[str, Any]:
    team = index % teams
    return {
        "apiVersion": "mlcost.io/v1alpha1",
        "kind": "MLCostPolicy",
        "metadata": {"name": f"{run}-{index:04d}", "namespace": f"team-{team}"},
        "spec": {
            "mode": "Audit",
            "scope": {"tags": {"team": f"team-{team}"}},
            "budget": {
                "limit": str(1000 + index),
                "costFilters": {"tags": {"team": [f"team-{team}"]}},
                "notifications": [
                    {"type": "ACTUAL", "threshold": "80", "emails": [f"team-{team}@example.com"]},
                    {"type": "FORECASTED", "threshold": "100", "emails": [f"team-{team}@example.com"]},
                ],
            },
            "tagging": {"required": [{"key": "team"}, {"key": "cost-center"}]},
            "notebooks": {"allowedInstanceTypes": ["ml.t3.medium"], "maxUptime": "12h"},
            "training": {"requireManagedSpot": True, "maxRuntime": "24h"},
            "endpoints": {"idle": {"window": "7d", "maxInvocations": 0}},
        },
    }


def is_ready(obj: dict[str, Any], since: datetime | None = None) -> bool:
    """Ready for its generation (and, with `since`, reconciled at or after it)."""
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"].get("generation"):
        return False
    if since is not None:
        swept = status.get("lastSweep")
        if not swept or datetime.fromisoformat(swept.replace("Z", "+00:00")) < since:
            return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f'clusters:\n- name: fake\n  cluster: {{server: "{server}", insecure-skip-tls-verify: true}}\n'
        "users:\n- name: bench\n  user: {token: bench-token}\n"
        "contexts:\n- name: fake\n  context: {cluster: fake, user: bench, namespace: default}\n"
        "current-context: fake\n"
    )
    return path


def memory_kib(pid: int) -> tuple[int, int, int]:
    """VmRSS, VmHWM (KiB) and the thread count of a process, from /proc."""
    values = {"VmRSS": 0, "VmHWM": 0, "Threads": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in values:
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"], values["Threads"]


@dataclass
class Sampler:
    """Samples a process's memory every 0.2 s in a thread, until stopped."""

    pid: int
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Sampler:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            try:
                rss, hwm, threads = memory_kib(self.pid)
            except (FileNotFoundError, ProcessLookupError):
                return
            self.samples.append((time.monotonic() - started, rss, hwm, threads))
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()

    @property
    def peak_mib(self) -> float:
        return max((s[2] for s in self.samples), default=0) / 1024

    @property
    def max_threads(self) -> int:
        return max((s[3] for s in self.samples), default=0)


def operator_env(kube_url: str, aws_url: str, workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig(workdir / "kubeconfig", kube_url)),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "MLCOST_AWS_ENDPOINT_URL": aws_url,
        "MLCOST_METRICS_PORT": "0",
        "MLCOST_HEALTH_PORT": "0",
        "PYTHONPATH": str(REPO / "operator"),
        # A fresh endpoint-config cache each run (a first install): runs stay comparable.
        "MLCOST_CACHE_DIR": str(workdir / "cache"),
        "XDG_CACHE_HOME": str(workdir / "cache"),
    }
    env.update(extra)
    return env


def ready_count(kube: Any, resource: Any, since: datetime | None = None) -> tuple[int, int]:
    """Ready and all policies, counted in the fake API's own loop from its store (no copies, no
    HTTP: under a backlog the fake serves the operator slowly, and a LIST of 500 policies with
    their status could take a minute; FakeKubeAPI.call gives up after 10 s)."""

    def count(emulator: Any) -> tuple[int, int]:
        policies = [o.raw for (r, _, _), o in emulator.objects.items() if r == resource and not o.deleted]
        return sum(1 for o in policies if is_ready(o, since)), len(policies)

    answer: concurrent.futures.Future[tuple[int, int]] = concurrent.futures.Future()

    def run() -> None:
        try:
            answer.set_result(count(kube._emulator))
        except BaseException as exc:
            answer.set_exception(exc)

    kube._loop.call_soon_threadsafe(run)
    return answer.result()


@dataclass
class RequestLogTrim:
    """Keeps the fake API's kmock request log short (5 times a second, in the fake's own loop).

    kmock matches each request by walking every request it ever served (quadratic): after a few
    thousand (kopf posts an Event per handler run, and 500 policies make thousands) each request
    takes a quarter of a second, and the fake, not the operator, becomes what the benchmark
    measures, with kopf queueing its Events in the operator's memory meanwhile. A real API server
    answers in milliseconds. Only the log of raw requests is trimmed; objects, watches and
    FakeKubeAPI's own records stay whole.
    """

    kube: Any
    keep: int = 20
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> RequestLogTrim:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _trim(self) -> None:
        served = self.kube._emulator._requests
        if len(served) > self.keep:
            del served[: -self.keep]

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.kube._loop.call_soon_threadsafe(self._trim)

    def stop(self) -> None:
        self._stop.set()


def create(kube: Any, manifest: dict[str, Any]) -> None:
    """POST a policy over HTTP as kubectl would, waiting as long as the busy fake API takes."""
    url = f"{kube.url}/apis/mlcost.io/v1alpha1/namespaces/{manifest['metadata']['namespace']}/{PLURAL}"
    request = urllib.request.Request(
        url, data=json.dumps(manifest).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600):
        pass


def run_once(
    mode: str, policies: int, args: argparse.Namespace, aws_url: str, extra_env: dict[str, str]
) -> dict[str, Any]:
    from tests.kube.fake_api import FakeKubeAPI

    run = f"{mode[0]}{policies}-{int(time.time()) % 100000}-{os.getpid()}"  # unique per benchmark run
    manifests = [policy(run, i, args.teams) for i in range(policies)]
    with FakeKubeAPI() as kube, tempfile.TemporaryDirectory() as tmp:
        resource = kube.resource(PLURAL).resource
        trim = RequestLogTrim(kube).start()
        if mode != "gradual":
            for manifest in manifests:
                kube.create(manifest)
        env = operator_env(kube.url, aws_url, Path(tmp), extra_env)
        command = [sys.executable, "-m", "mlcost", "run", "--standalone"]
        since = None
        if mode == "restart":
            since = _warm_up(kube, resource, manifests, args, command, env, Path(args.logs) / f"{run}-1.log")
        if args.probe:
            env[PROBE_ENV] = str(Path(args.probe).resolve() / run)
            env[PROBE_SITES_ENV] = str(args.probe_sites)
            command = [sys.executable, str(Path(__file__).resolve()), "--operator-child"]
        log = Path(args.logs) / f"{run}.log"
        with log.open("w") as out:
            started = time.monotonic()
            child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            sampler = Sampler(child.pid).start()
            try:
                all_ready = _wait_ready(kube, resource, mode, manifests, args, started, child, since)
                ready_at = time.monotonic() - started
                peak_at_ready = sampler.peak_mib
                time.sleep(args.settle)
                ready, total = ready_count(kube, resource, since)
                settled_mib = memory_kib(child.pid)[0] / 1024
            finally:
                sampler.stop()
                trim.stop()
                child.terminate()
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.kill()
        try:
            requests: int | None = len(kube.requests())
        except TimeoutError:
            requests = None
    return {
        "mode": mode,
        "policies": policies,
        "ready_s": round(ready_at, 1) if all_ready else None,
        "peak_mib": round(sampler.peak_mib),
        "peak_at_ready_mib": round(peak_at_ready),
        "settled_mib": round(settled_mib),
        "threads": sampler.max_threads,
        "ready_at_end": f"{ready}/{total}",
        "kube_requests": requests,
        "log": str(log),
    }


def _wait_ready(
    kube: Any,
    resource: Any,
    mode: str,
    manifests: list[dict[str, Any]],
    args: argparse.Namespace,
    started: float,
    child: subprocess.Popen[bytes],
    since: datetime | None = None,
) -> bool:
    """Until every policy is Ready (creating them in batches first in gradual mode)."""
    deadline = started + args.timeout
    created = 0 if mode == "gradual" else len(manifests)
    while time.monotonic() < deadline and child.poll() is None:
        ready = ready_count(kube, resource, since)[0]
        if ready == len(manifests):
            return True
        if mode == "gradual" and ready == created and kube.watches(PLURAL):
            for manifest in manifests[created : created + args.batch]:
                create(kube, manifest)
            created = min(len(manifests), created + args.batch)
        time.sleep(2)
    return False


MALLINFO2_FIELDS = (
    *("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks"),
    *("uordblks", "fordblks", "keepcost"),
)


def _mallinfo() -> dict[str, int]:
    """glibc's mallinfo2(): heap and mmapped bytes malloc holds, in use and free (all arenas)."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in MALLINFO2_FIELDS]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return {name: int(getattr(info, name)) for name in MALLINFO2_FIELDS}


def _pymalloc() -> str:
    """pymalloc's own arenas (objects up to 512 bytes), from sys._debugmallocstats() on stderr."""
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode(errors="replace")
    wanted = ("arenas allocated current", "bytes in allocated blocks", "bytes in available blocks")
    return "; ".join(" ".join(line.split()) for line in text.splitlines() if any(w in line for w in wanted))


def _warm_up(
    kube: Any,
    resource: Any,
    manifests: list[dict[str, Any]],
    args: argparse.Namespace,
    command: list[str],
    env: dict[str, str],
    log: Path,
) -> datetime:
    """Restart mode: a first operator (not measured) brings every policy to Ready, with its full
    status, and stops; returns when the measured one starts, so its own reconciles can be told
    from the first one's (status.lastSweep)."""
    with log.open("w") as out:
        first = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            if not _wait_ready(kube, resource, "backlog", manifests, args, time.monotonic(), first):
                raise SystemExit(f"the first operator did not bring every policy to Ready: see {log}")
        finally:
            first.terminate()
            first.wait(timeout=60)
    return datetime.now(UTC).replace(microsecond=0)


def operator_child() -> None:
    """The operator with a probe: every 10 s, what holds its memory goes to a file."""
    import gc
    from collections import Counter

    out = Path(os.environ[PROBE_ENV])
    out.mkdir(parents=True, exist_ok=True)
    sites = int(os.environ.get(PROBE_SITES_ENV) or 0)
    if sites:
        import tracemalloc

        tracemalloc.start(sites)

    def dump() -> None:
        for n in range(10_000):
            time.sleep(10)
            rss, hwm, threads = memory_kib(os.getpid())
            m = _mallinfo()
            types = Counter(type(o).__name__ for o in gc.get_objects())
            lines = [
                f"RSS {rss / 1024:.0f} MiB (peak {hwm / 1024:.0f}); threads {threads}",
                f"malloc: heap {m['arena'] / 2**20:.1f} MiB (in use {m['uordblks'] / 2**20:.1f}, "
                f"free {m['fordblks'] / 2**20:.1f}), mmapped {m['hblkhd'] / 2**20:.1f} MiB",
                f"pymalloc: {_pymalloc()}",
                f"gc objects {sum(types.values())}: "
                + ", ".join(f"{name} {count}" for name, count in types.most_common(15)),
            ]
            if sites:
                import tracemalloc

                snapshot = tracemalloc.take_snapshot()
                lines.append(f"python heap traced {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MiB")
                for stat in snapshot.statistics("traceback" if sites > 1 else "lineno")[:30]:
                    lines.append(f"  {stat.size / 2**20:8.2f} MiB {stat.count:8d}")
                    lines += [f"      {line}" for line in stat.traceback.format()[-2 * sites :]]
                del snapshot
            (out / f"{n:03d}.txt").write_text("\n".join(lines) + "\n")

    threading.Thread(target=dump, daemon=True).start()
    from mlcost.cli import main as mlcost_main

    sys.exit(mlcost_main(["run", "--standalone"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--policies", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--resources", type=int, default=10000)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument(
        "--modes", nargs="+", choices=["backlog", "gradual", "restart"], default=["backlog", "gradual"]
    )
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to keep sampling after all-Ready")
    parser.add_argument("--batch", type=int, default=10, help="policies per batch in gradual mode")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up waiting for Ready after this")
    parser.add_argument("--probe", metavar="DIR", help="write what holds memory to DIR")
    parser.add_argument(
        "--probe-sites", type=int, default=0, metavar="FRAMES", help="with --probe: tracemalloc sites"
    )
    parser.add_argument("--env", nargs="*", default=[], metavar="K=V", help="settings for the operator")
    parser.add_argument("--logs", default=tempfile.mkdtemp(prefix="bench-backlog-"), help="operator logs")
    parser.add_argument("--operator-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.operator_child:
        operator_child()
        return
    from inventory import serve  # bench/ is the script directory

    extra_env = dict(item.split("=", 1) for item in args.env)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    stop = context.Event()
    aws = context.Process(target=serve, args=(args.resources, args.teams, theirs, stop))
    aws.start()
    aws_url, seeded = ours.recv()
    print(f"Embedded AWS at {aws_url}: {seeded}; operator settings {extra_env or 'default'}")
    print("mode     policies  ready(s)  peak RSS  peak at Ready  settled RSS  threads  ready  requests")
    try:
        for policies in args.policies:
            for mode in args.modes:
                r = run_once(mode, policies, args, aws_url, extra_env)
                print(
                    f"{r['mode']:8} {r['policies']:8}  {r['ready_s']!s:>8}  {r['peak_mib']:4} MiB"
                    f"  {r['peak_at_ready_mib']:9} MiB  {r['settled_mib']:7} MiB  {r['threads']:7}"
                    f"  {r['ready_at_end']:>7}  {r['kube_requests']}  ({r['log']})",
                    flush=True,
                )
    finally:
        stop.set()
        ours.recv()
        aws.join()


if __name__ == "__main__":
    main()
