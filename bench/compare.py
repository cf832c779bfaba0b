"""Benchmark beside Cloud Custodian: one seeded account, our sweeps and c7n's audit, side by side.

    .venv/bin/python bench/compare.py [--resources 1000 9000] [--latency-ms 25]
        [--runs plan-tag-only plan-full operator c7n]

For each size the embedded AWS runs in a child process of its own (moto must not count
towards anyone's memory), seeded by bench/seed.py's seed_tag_audit: a third each notebooks,
endpoints and training jobs, 30% of each without the tag `team`, every endpoint with its own
config. Every AWS request waits --latency-ms in the server (wall times then mean something for
a real AWS region, where a round trip takes tens of milliseconds). On that account, each run in
a child process of its own with the server's call counter zeroed before it:

  plan, tag-only   `mlcost plan --no-cache -o json` of a policy requiring the tag `team` on
                   notebooks, endpoints and training jobs (Audit): the cold sweep of a CI job
  plan, full       the same policy with an endpoint rule (allowedInstanceTypes), which needs
                   each endpoint's config described once
  operator steady  the full policy's second sweep in one operator process (inventory re-read,
                   endpoint configs from the process's cache)
  operator restart a new operator process's first sweep, its configs from the cache directory
                   the previous process left (bench: a FileConfigStore; a cluster: a ConfigMap)
  c7n              Cloud Custodian's `tag:team: absent` audit of aws.sagemaker-notebook,
                   aws.sagemaker-endpoint and aws.sagemaker-job (query: [] : every job, not
                   only InProgress), in a virtualenv of its own (bench/.venv-c7n, made if missing)

Each run's findings are checked against what was seeded; calls (by operation, counted by the
server), wall seconds and peak RSS (the child's ru_maxrss) are printed as a table with ratios
against c7n, followed by the verdict on each target of issue 10. The exit code is 1 when a
run's findings are wrong or a run fails, whatever the targets.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
C7N_VERSION = "0.9.53"
C7N_VENV = BENCH / ".venv-c7n"
REGION = "us-east-1"
TYPES = ("NotebookInstance", "Endpoint", "TrainingJob")
MISSING_TAG = "MissingTag"
TYPE_NOT_ALLOWED = "InstanceTypeNotAllowed"
# The full policy allows two of bench/seed.py's three endpoint types: every third endpoint
# (ml.g4dn.xlarge) is a finding, which only a described endpoint config can tell.
ALLOWED_ENDPOINT_TYPES = ["ml.m5.xlarge", "ml.c5.xlarge"]
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
# Operations that page through resources, as opposed to describing one endpoint config.
DESCRIBE_CONFIG = "DescribeEndpointConfig"
NOT_PAGES = {DESCRIBE_CONFIG, "GetCallerIdentity"}
# The targets of issue 10 item 3.
TAG_ONLY_MAX_CALLS, TAG_ONLY_AT = 150, 9000
FULL_MAX_RATIO = 1.1
WALL_MIN_RATIO, WALL_AT_LATENCY_MS = 10.0, 25.0
RSS_MAX_BYTES, RSS_AT = 150_000_000, 10_000


# ----------------------------------------------------------------------------- the account


def serve(resources: int, teams: int, latency_ms: float, pipe: Connection) -> None:
    """Child process: seed the embedded AWS, send its URL, then answer the parent's commands
    ("reset", "calls", "cpu", "stop") until "stop", answered with the process's peak RSS in KiB."""
    # Imported here, in the child only: moto must not count towards the runs' memory.
    from seed import seed_tag_audit  # bench/ is the child's script directory too

    from mlcost.embedded.server import EmbeddedAws

    with EmbeddedAws() as aws:
        started = time.perf_counter()
        seeded = seed_tag_audit(aws, resources, teams)
        seeded["seed_seconds"] = round(time.perf_counter() - started, 1)
        # After seeding: seeding writes moto's backend in this process, not over HTTP.
        aws.set_latency(latency_ms)
        pipe.send((aws.endpoint_url, seeded))
        while True:
            command = pipe.recv()
            if command == "reset":
                aws.reset_calls()
                pipe.send(None)
            elif command == "calls":
                pipe.send(dict(aws.calls()))
            elif command == "cpu":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                pipe.send(usage.ru_utime + usage.ru_stime)
            else:
                break
    pipe.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class Account:
    """The seeded embedded AWS in its child process, driven over a pipe."""

    def __init__(self, pipe: Connection, endpoint_url: str, seeded: dict[str, Any]) -> None:
        self._pipe = pipe
        self.endpoint_url = endpoint_url
        self.seeded = seeded

    def reset_calls(self) -> None:
        self._pipe.send("reset")
        self._pipe.recv()

    def cpu_seconds(self) -> float:
        """CPU time the embedded AWS (moto and our extensions) has used so far."""
        self._pipe.send("cpu")
        return float(self._pipe.recv())

    def calls(self) -> Counter[str]:
        """Requests since the last reset, by operation (service names are unambiguous here)."""
        self._pipe.send("calls")
        counted: Counter[str] = Counter()
        for (_, operation), n in self._pipe.recv().items():
            counted[operation] += n
        return counted


@contextmanager
def seeded_account(resources: int, teams: int, latency_ms: float) -> Iterator[Account]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve, args=(resources, teams, latency_ms, theirs))
    child.start()
    endpoint_url, seeded = ours.recv()
    try:
        yield Account(ours, endpoint_url, seeded)
    finally:
        ours.send("stop")
        peak = ours.recv() / 1024
        child.join()
        print(f"  embedded AWS process: peak RSS {peak:.0f} MiB (not counted in any run)")


# ----------------------------------------------------------------------------- measuring


@dataclass
class Run:
    label: str
    wall_what: str  # "process" (start to exit) or "sweep" (the sweep alone, process running)
    findings: dict[str, int]  # by resource type (or rule, for checks)
    by_rule: dict[str, int]
    calls: Counter[str]
    seconds: float
    peak_rss_kib: int
    cpu_seconds: float  # the run's own process
    aws_cpu_seconds: float  # the embedded AWS's, serving the run
    problems: list[str] = field(default_factory=list)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_kib / 1024

    @property
    def pages(self) -> int:
        return sum(n for op, n in self.calls.items() if op not in NOT_PAGES)


@dataclass
class Child:
    stdout: str
    stderr: str
    exit_code: int
    seconds: float
    peak_rss_kib: int
    cpu_seconds: float
    aws_cpu_seconds: float
    calls: Counter[str]

    def run(self, label: str, wall_what: str) -> Run:
        return Run(
            label,
            wall_what,
            {},
            {},
            self.calls,
            self.seconds,
            self.peak_rss_kib,
            self.cpu_seconds,
            self.aws_cpu_seconds,
        )


def run_child(
    argv: Sequence[str], account: Account, *, env: dict[str, str], handshake: bool = False
) -> Child:
    """Run argv with the call counter zeroed; its wall seconds, peak RSS and calls.

    handshake: the child prints a line when set up and waits for one on stdin (operator_sweep):
    counting and timing start there, so imports and an unmeasured warm-up sweep are not counted.
    """
    account.reset_calls()
    aws_cpu = account.cpu_seconds()
    with tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if handshake else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            text=True,
        )
        assert child.stdout is not None
        seconds: float | None = None
        out = ""
        if handshake:
            assert child.stdin is not None
            ready = child.stdout.readline()
            if ready.strip() == "ready":
                account.reset_calls()
                aws_cpu = account.cpu_seconds()
                started = time.perf_counter()
                child.stdin.write("go\n")
                child.stdin.flush()
                out = child.stdout.readline()
                seconds = time.perf_counter() - started
            else:  # it failed while setting up: its stderr says why
                out = ready
            child.stdin.close()
        out += child.stdout.read()
        # wait4, not wait(): the child's own rusage, ru_maxrss in KiB on Linux.
        _, status, usage = os.wait4(child.pid, 0)
        if seconds is None:
            seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        err = stderr.read()
    aws_cpu = account.cpu_seconds() - aws_cpu
    # The child's CPU is its whole life, warm-up included; the server's is the measured part only.
    cpu = usage.ru_utime + usage.ru_stime
    return Child(out, err, child.returncode, seconds, usage.ru_maxrss, cpu, aws_cpu, account.calls())


def _failed(label: str, child: Child, codes: tuple[int, ...]) -> list[str]:
    if child.exit_code in codes:
        return []
    tail = "\n".join(child.stderr.strip().splitlines()[-15:])
    return [f"{label}: exit code {child.exit_code}\n{tail}"]


# ----------------------------------------------------------------------------- the policies


def policy_manifest(name: str, *, full: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "mode": "Audit",
        # Every seeded name: an empty scope governs nothing.
        "scope": {"namePrefixes": ["notebook-", "endpoint-", "training-"]},
        "tagging": {"resourceTypes": list(TYPES), "required": [{"key": "team"}]},
    }
    if full:
        spec["endpoints"] = {"allowedInstanceTypes": ALLOWED_ENDPOINT_TYPES}
    return {
        "apiVersion": "mlcost.io/v1alpha1",
        "kind": "MLCostPolicy",
        "metadata": {"name": name, "namespace": "bench"},
        "spec": spec,
    }


def c7n_policy() -> dict[str, Any]:
    def audit(name: str, resource_type: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "resource": resource_type, **extra, "filters": [{"tag:team": "absent"}]}

    return {
        "policies": [
            audit("notebooks-without-team", "aws.sagemaker-notebook"),
            audit("endpoints-without-team", "aws.sagemaker-endpoint"),
            # c7n lists only InProgress jobs unless told otherwise (its default query).
            audit("training-jobs-without-team", "aws.sagemaker-job", query=[]),
        ]
    }


C7N_TYPES = {
    "notebooks-without-team": "NotebookInstance",
    "endpoints-without-team": "Endpoint",
    "training-jobs-without-team": "TrainingJob",
}


def expected_findings(seeded: dict[str, Any], *, full: bool) -> dict[str, int]:
    """By rule: MissingTag for the seeded untagged; InstanceTypeNotAllowed for every third endpoint."""
    expected = {MISSING_TAG: sum(seeded["missing_team"].values())}
    if full:
        expected[TYPE_NOT_ALLOWED] = sum(1 for i in range(seeded["endpoints"]) if i % 3 == 2)
    return expected


# ----------------------------------------------------------------------------- the runs


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLCOST_"))}
    return {**env, **DUMMY_CREDENTIALS, **extra}


def our_plan(account: Account, label: str, policy: Path, *, full: bool) -> Run:
    mlcost = Path(sys.executable).with_name("mlcost")
    argv = [
        str(mlcost),
        "plan",
        "-f",
        str(policy),
        "--endpoint-url",
        account.endpoint_url,
        "--region",
        REGION,
    ]
    child = run_child([*argv, "-o", "json", "--no-cache"], account, env=_env())
    run = child.run(label, "process")
    run.problems = _failed(label, child, (0, 2))  # 2: findings, which is the point
    if not run.problems:
        summary = json.loads(child.stdout)["summary"]
        run.findings = {t: g["findings"] for t, g in summary["byResourceType"].items()}
        run.by_rule = {r: g["findings"] for r, g in summary["byRule"].items()}
        run.problems = _check(label, run, account.seeded, full=full)
    return run


def operator_sweep(account: Account, label: str, policy: Path, cache_dir: Path, *, warm: bool) -> Run:
    argv = [sys.executable, str(BENCH / "operator_sweep.py"), "--endpoint-url", account.endpoint_url]
    argv += ["--policy", str(policy), "--cache-dir", str(cache_dir), "--region", REGION]
    child = run_child([*argv, "--warm"] if warm else argv, account, env=_env(), handshake=True)
    run = child.run(label, "sweep")
    run.problems = _failed(label, child, (0,))
    if not run.problems:
        answer = json.loads(child.stdout.strip().splitlines()[-1])
        if "error" in answer:
            run.problems = [f"{label}: {answer['error']}"]
        else:
            run.findings, run.by_rule = answer["byResourceType"], answer["byRule"]
            run.problems = _check(label, run, account.seeded, full=True)
    return run


def c7n(account: Account, workdir: Path, custodian: Path) -> Run:
    policy = workdir / "c7n-policy.yml"
    policy.write_text(yaml.safe_dump(c7n_policy(), sort_keys=False))
    out = workdir / "c7n-output"
    shutil.rmtree(out, ignore_errors=True)
    # --cache-period 0: c7n would otherwise answer a second run from its 15-minute cache.
    argv = [str(custodian), "run", "-s", str(out), "--cache-period", "0", "--region", REGION, str(policy)]
    # botocore (>= 1.31 with boto3 >= 1.28) sends every client to AWS_ENDPOINT_URL.
    child = run_child(argv, account, env=_env(AWS_ENDPOINT_URL=account.endpoint_url))
    run = child.run("c7n", "process")
    run.problems = _failed("c7n", child, (0,))
    if not run.problems:
        for name, resource_type in C7N_TYPES.items():
            run.findings[resource_type] = len(json.loads((out / name / "resources.json").read_text()))
        run.by_rule = {MISSING_TAG: sum(run.findings.values())}
        run.problems = _check("c7n", run, account.seeded, full=False)
    return run


def _check(label: str, run: Run, seeded: dict[str, Any], *, full: bool) -> list[str]:
    problems = []
    want_rules = expected_findings(seeded, full=full)
    if run.by_rule != want_rules:
        problems.append(f"{label}: findings by rule {run.by_rule}, seeded {want_rules}")
    want_types = dict(seeded["missing_team"])
    if full:
        want_types["Endpoint"] += want_rules[TYPE_NOT_ALLOWED]
    got_types = {t: run.findings.get(t, 0) for t in TYPES}
    if got_types != want_types:
        problems.append(f"{label}: findings by type {got_types}, seeded {want_types}")
    return problems


def custodian_binary(venv: Path) -> Path:
    """bench/.venv-c7n's custodian, made with pip from PyPI if missing."""
    custodian = venv / "bin" / "custodian"
    if not custodian.exists():
        print(f"Installing c7n=={C7N_VERSION} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "--quiet", f"c7n=={C7N_VERSION}"]
        subprocess.run(pip, check=True)
    return custodian


def c7n_versions(venv: Path) -> str:
    code = (
        "import boto3, botocore, c7n.version as v; print(v.version, boto3.__version__, botocore.__version__)"
    )
    python = venv / "bin" / "python"
    c7n_v, boto3_v, botocore_v = subprocess.run(
        [str(python), "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    return f"c7n {c7n_v} (boto3 {boto3_v}, botocore {botocore_v})"


# ----------------------------------------------------------------------------- the table


def _ops(calls: Counter[str]) -> str:
    return ", ".join(f"{op} {n:,}" for op, n in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])))


def _ratio(theirs: float, ours: float) -> str:
    if ours <= 0:
        return "-"
    value = theirs / ours
    return f"{value:,.0f}x" if value >= 10 else f"{value:.1f}x"


def table(runs: list[Run]) -> str:
    c7n_run = next((r for r in runs if r.label == "c7n" and not r.problems), None)
    head = "| run | findings (notebook / endpoint / job) | AWS calls | wall s | CPU s: run / AWS "
    head += "| peak RSS MiB |"
    rule = "| --- | --- | --- | --- | --- | --- |"
    if c7n_run:
        head += " c7n ÷ this: calls / wall / RSS |"
        rule += " --- |"
    lines = [head, rule]
    for run in runs:
        found = " / ".join(f"{run.findings.get(t, 0):,}" for t in TYPES) if not run.problems else "FAILED"
        wall = f"{run.seconds:.2f} ({run.wall_what})"
        calls = f"{run.total_calls:,}: {_ops(run.calls)}"
        cpu = f"{run.cpu_seconds:.1f} / {run.aws_cpu_seconds:.1f}"
        row = f"| {run.label} | {found} | {calls} | {wall} | {cpu} | {run.peak_rss_mib:.0f} |"
        if c7n_run:
            ratios = [
                _ratio(c7n_run.total_calls, run.total_calls),
                _ratio(c7n_run.seconds, run.seconds),
                _ratio(c7n_run.peak_rss_kib, run.peak_rss_kib),
            ]
            row += " " + " / ".join(ratios) + " |"
        lines.append(row)
    return "\n".join(lines)


@dataclass
class Verdict:
    target: str
    met: bool | None  # None: not assessed by this run
    detail: str

    def line(self) -> str:
        word = {True: "MET", False: "MISSED", None: "not assessed"}[self.met]
        return f"  [{word}] {self.target}: {self.detail}"


def verdicts(
    resources: int, latency_ms: float, runs: dict[str, Run], seeded: dict[str, Any]
) -> list[Verdict]:
    found: list[Verdict] = []
    # A failed run's figures judge nothing.
    runs = {label: run for label, run in runs.items() if not run.problems}
    tag_only, full, c7n_run = runs.get("plan, tag-only"), runs.get("plan, full"), runs.get("c7n")
    if tag_only:
        target = f"cold tag-only sweep <= {TAG_ONLY_MAX_CALLS} calls at {TAG_ONLY_AT:,} resources"
        met = tag_only.total_calls <= TAG_ONLY_MAX_CALLS if resources >= TAG_ONLY_AT else None
        found.append(Verdict(target, met, f"{tag_only.total_calls} calls at {resources:,}"))
    if full:
        configs = int(seeded["endpoint_configs"])
        ideal = full.pages + configs
        ratio = full.total_calls / ideal
        detail = (
            f"{full.total_calls:,} calls / ({full.pages} pages + {configs:,} distinct configs) "
            f"= {ratio:.3f}; "
            f"{full.calls[DESCRIBE_CONFIG]:,} {DESCRIBE_CONFIG}"
        )
        found.append(
            Verdict(
                f"cold full sweep within {FULL_MAX_RATIO}x of pages + configs",
                ratio <= FULL_MAX_RATIO,
                detail,
            )
        )
    if tag_only and c7n_run:
        target = f"wall >= {WALL_MIN_RATIO:.0f}x below c7n's at {WALL_AT_LATENCY_MS:.0f} ms latency"
        ratio = c7n_run.seconds / tag_only.seconds
        met = ratio >= WALL_MIN_RATIO if latency_ms >= WALL_AT_LATENCY_MS else None
        detail = f"c7n {c7n_run.seconds:.1f} s / plan tag-only {tag_only.seconds:.2f} s = {ratio:.1f}x"
        if full:
            detail += f" (plan full {full.seconds:.2f} s: {c7n_run.seconds / full.seconds:.1f}x)"
        found.append(Verdict(target, met, f"{detail} at {latency_ms:g} ms"))
    ours = [r for r in runs.values() if r.label != "c7n"]
    if ours:
        peak = max(ours, key=lambda r: r.peak_rss_kib)
        peak_mb = peak.peak_rss_kib * 1024 / 1e6
        target = f"peak RSS < {RSS_MAX_BYTES / 1e6:.0f} MB at {RSS_AT:,} resources"
        met = peak.peak_rss_kib * 1024 < RSS_MAX_BYTES
        detail = (
            f"largest of our runs: {peak.label} {peak_mb:.0f} MB ({peak.peak_rss_mib:.0f} MiB) "
            f"at {resources:,}"
        )
        if resources < RSS_AT:
            # Met below the stated size says little; missed below it is missed at it too.
            met = None if met else False
        found.append(Verdict(target, met, detail))
    return found


# ----------------------------------------------------------------------------- main


RUNS = ("plan-tag-only", "plan-full", "operator", "c7n")


def bench_size(
    resources: int, teams: int, latency_ms: float, runs_wanted: Sequence[str], custodian: Path | None
) -> list[str]:
    problems: list[str] = []
    with seeded_account(resources, teams, latency_ms) as account, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        seeded = account.seeded
        print(
            f"\n## {seeded['resources']:,} resources ({seeded['notebook_instances']:,} notebooks, "
            f"{seeded['endpoints']:,} endpoints with as many configs, {seeded['training_jobs']:,} training "
            f"jobs; without `team`: {seeded['missing_team']}), latency {latency_ms:g} ms; "
            f"seeded in {seeded['seed_seconds']} s",
            flush=True,
        )
        tag_only, full = workdir / "tag-only.yaml", workdir / "full.yaml"
        tag_only.write_text(yaml.safe_dump(policy_manifest("tag-only", full=False)))
        full.write_text(yaml.safe_dump(policy_manifest("full", full=True)))
        cache_dir = workdir / "config-cache"
        steps: list[tuple[str, Any]] = []
        if "plan-tag-only" in runs_wanted:
            steps.append(
                ("plan, tag-only", lambda: our_plan(account, "plan, tag-only", tag_only, full=False))
            )
        if "plan-full" in runs_wanted:
            steps.append(("plan, full", lambda: our_plan(account, "plan, full", full, full=True)))
        if "operator" in runs_wanted:
            # The restarted process reads the cache directory the steady one filled.
            steps.append(
                (
                    "operator, steady",
                    lambda: operator_sweep(account, "operator, steady", full, cache_dir, warm=True),
                )
            )
            steps.append(
                (
                    "operator, restarted",
                    lambda: operator_sweep(account, "operator, restarted", full, cache_dir, warm=False),
                )
            )
        if custodian is not None:
            steps.append(("c7n", lambda: c7n(account, workdir, custodian)))
        runs: dict[str, Run] = {}
        for label, step in steps:
            print(f"  running {label} ...", flush=True)
            run = step()
            runs[label] = run
            problems += run.problems
            for problem in run.problems:
                print(f"  PROBLEM {problem}", flush=True)
    print()
    print(table(list(runs.values())))
    full_run = runs.get("plan, full")
    if full_run:
        print(
            f"\n  full plan: {full_run.pages} pages + {seeded['endpoint_configs']:,} distinct endpoint "
            f"configs; "
            f"findings by rule {full_run.by_rule}"
        )
    print("\nTargets (issue 10):")
    for verdict in verdicts(resources, latency_ms, runs, seeded):
        print(verdict.line())
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--resources", type=int, nargs="+", default=[1000, 9000])
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=25.0,
        help="waited by the embedded AWS in every request (default 25, about a round trip to a region)",
    )
    parser.add_argument(
        "--runs", nargs="+", choices=RUNS, default=list(RUNS), help="which runs (default: all)"
    )
    parser.add_argument("--c7n-venv", type=Path, default=C7N_VENV)
    args = parser.parse_args()
    if args.latency_ms < 0:
        parser.error("--latency-ms must be at least 0")
    custodian = custodian_binary(args.c7n_venv) if "c7n" in args.runs else None
    versions = f"moto {metadata.version('moto')}"
    if custodian is not None:
        versions += f", {c7n_versions(args.c7n_venv)}"
    print(
        f"# bench/compare.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
        f"({platform.machine()}), Python {platform.python_version()}, {versions}"
    )
    problems: list[str] = []
    for resources in sorted(args.resources):
        problems += bench_size(resources, args.teams, args.latency_ms, args.runs, custodian)
    if problems:
        print(f"\n{len(problems)} problem(s): findings wrong or a run failed (see above)")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
