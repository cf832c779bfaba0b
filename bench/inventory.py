"""Benchmark: AWS calls, seconds and peak RSS of reading a seeded account's SageMaker inventory.

    .venv/bin/python bench/inventory.py [--resources 1000 10000] [--teams 20]

For each size, the embedded AWS runs in a child process (so the reader's peak RSS is the
operator's, not moto's), is seeded with bench/seed.py, and read over HTTP twice by one
InventoryReader: the first read describes every endpoint config, the second (steady state)
should describe nothing.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

import boto3

from mlcost.aws.inventory import InventoryReader
from mlcost.aws.session import AwsSessions, CountingRecorder


def serve(resources: int, teams: int, pipe: Connection, stop: Event) -> None:
    """Child process: start and seed the embedded AWS, send its URL, serve until told to stop."""
    # Imported here, in the child only: moto must not count towards the operator's memory.
    from seed import seed_sagemaker  # bench/ is the child's script directory too

    from mlcost.embedded.server import EmbeddedAws

    with EmbeddedAws() as aws:
        started = time.perf_counter()
        seeded = seed_sagemaker(aws, resources, teams)
        seeded["seed_seconds"] = round(time.perf_counter() - started, 1)
        pipe.send((aws.endpoint_url, seeded))
        stop.wait()
        pipe.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _calls(recorder: CountingRecorder, before: Counter[tuple[str, str, str]]) -> Counter[tuple[str, str]]:
    counted: Counter[tuple[str, str]] = Counter()
    for (service, operation, _), n in (recorder.calls - before).items():
        counted[(service, operation)] += n
    return counted


def resources_read(seeded: dict[str, Any]) -> int:
    """Resources an inventory read returns: training jobs only within the lookback."""
    return int(seeded["endpoints"] + seeded["notebook_instances"] + seeded["training_jobs_in_lookback"])


@contextmanager
def seeded_account(
    resources: int, teams: int
) -> Iterator[tuple[AwsSessions, CountingRecorder, dict[str, Any]]]:
    """The embedded AWS seeded in a child process, and counted sessions to it; on exit, print
    both processes' peak RSS."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    stop = context.Event()
    child = context.Process(target=serve, args=(resources, teams, theirs, stop))
    child.start()
    endpoint_url, seeded = ours.recv()
    recorder = CountingRecorder()
    sessions = AwsSessions(
        default_region="us-east-1",
        endpoint_url=endpoint_url,
        recorder=recorder,
        base_session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
    )
    sessions.account_id(sessions.target(None, None))  # STS, once per process: not part of a sweep
    try:
        yield sessions, recorder, seeded
    finally:
        ours_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stop.set()
        server_peak: Any = ours.recv() / 1024
        child.join()
        print(f"  peak RSS: operator process {ours_peak:.0f} MiB; embedded AWS process {server_peak:.0f} MiB")


def report(
    label: str, recorder: CountingRecorder, before: Counter[tuple[str, str, str]], seconds: float, extra: str
) -> None:
    calls = _calls(recorder, before)
    by_operation = ", ".join(f"{op}={n}" for (_, op), n in sorted(calls.items()))
    print(f"  {label}: {sum(calls.values())} calls in {seconds:.2f}s, {extra} ({by_operation})")


def bench(resources: int, teams: int) -> None:
    with seeded_account(resources, teams) as (sessions, recorder, seeded):
        reader = InventoryReader(sessions)
        target = sessions.target(None, None)
        print(f"\n{seeded['resources']} resources ({seeded}):")
        read = resources_read(seeded)
        print(f"  resources a read returns: {read}; ceil(that/100) = {math.ceil(read / 100)}")
        for label in ("first read", "steady read"):
            before = Counter(recorder.calls)
            started = time.perf_counter()
            inventory = reader.read(target, datetime.now(UTC))
            report(
                label,
                recorder,
                before,
                time.perf_counter() - started,
                f"{len(inventory.resources)} resources",
            )


def run_sizes(bench_one: Callable[[int, int], None], doc: str | None) -> None:
    """Parse --resources/--teams and run bench_one for each size."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--resources", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--teams", type=int, default=20)
    args = parser.parse_args()
    # Ascending, so that the peak RSS printed for each size is that size's (ru_maxrss only grows).
    for resources in sorted(args.resources):
        bench_one(resources, args.teams)


def main() -> None:
    run_sizes(bench, __doc__)


if __name__ == "__main__":
    main()
