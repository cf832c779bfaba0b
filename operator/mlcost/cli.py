"""The `mlcost` command: run the operator, plan, validate, generate CRDs, or run the demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from mlcost.manifests import Manifest

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _cmd_run(args: argparse.Namespace) -> int:
    # Flags override MLCOST_* settings; the handlers module reads them once on import.
    if args.namespace:
        os.environ["MLCOST_NAMESPACES"] = ",".join(args.namespace)
    if args.metrics_port is not None:
        os.environ["MLCOST_METRICS_PORT"] = str(args.metrics_port)
    if args.log_format is not None:
        os.environ["MLCOST_LOG_FORMAT"] = args.log_format
    if args.standalone:
        os.environ["MLCOST_STANDALONE"] = "true"
    from mlcost import logs

    # Until the settings are read, log in the format asked for if it is a valid one.
    wanted = os.environ.get("MLCOST_LOG_FORMAT", "text")
    logs.setup("json" if wanted == "json" else "text", verbose=args.verbose)
    log = logging.getLogger("mlcost.run")

    import kopf

    from mlcost.config import ConfigError

    try:
        from mlcost.handlers import main as handlers
    except ConfigError as exc:
        log.error(f"mlcost run cannot start: {exc}")
        return EXIT_ERROR
    from mlcost.handlers.runtime import StartupError, check_port_free, start_runtime

    config = handlers.CONFIG
    logs.setup(config.log_format, verbose=args.verbose)
    # What cannot heal fails here, in a second, with one line saying what to do: kopf would
    # retry a failing startup handler every minute while the pod looks alive.
    try:
        if config.health_port:
            check_port_free(config.health_port, "MLCOST_HEALTH_PORT", "/healthz")
        runtime = start_runtime(config)
    except StartupError as exc:
        log.error(f"mlcost run cannot start: {exc}")
        return EXIT_ERROR
    if config.metrics_port:
        log.info(f"Serving /metrics on port {config.metrics_port}")
    from mlcost.handlers.peering import ensure_peering

    # kubectl cannot create the peering object in the same apply as its CRD: the operator does.
    ensure_peering(config)
    try:
        asyncio.run(
            kopf.operator(
                clusterwide=not config.namespaces,
                namespaces=config.namespaces,
                memo=kopf.Memo(runtime=runtime),
                liveness_endpoint=(
                    f"http://0.0.0.0:{config.health_port}/healthz" if config.health_port else None
                ),
            )
        )
    except Exception as exc:  # kopf has logged the cause; exit so that Kubernetes restarts us
        log.error(f"mlcost run stopped: {logs.summarise(str(exc))}: see the lines above")
        return EXIT_ERROR
    return EXIT_OK


def _cmd_crds(args: argparse.Namespace) -> int:
    from mlcost.api.crd import write_crds

    for path in write_crds(Path(args.output)):
        print(f"wrote {path}")
    return EXIT_OK


def _load_valid(paths: list[str], command: str) -> list[Manifest] | None:
    """The parsed manifests, or None after printing every problem with its file and field."""
    from mlcost.manifests import parse_manifest, read_manifests, validate_manifests

    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        print(f"mlcost {command}: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return None
    manifests, errors = read_manifests([Path(p) for p in paths])
    errors += validate_manifests(manifests)
    for error in errors:
        print(str(error), file=sys.stderr)
    if errors:
        print(f"mlcost {command}: {len(errors)} error(s); nothing was done", file=sys.stderr)
        return None
    return [parse_manifest(m) for m in manifests]


def _cmd_validate(args: argparse.Namespace) -> int:
    manifests = _load_valid(args.filename, "validate")
    if manifests is None:
        return EXIT_ERROR
    print(f"{len(manifests)} manifest(s) valid")
    return EXIT_OK


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (all) or more, not {number}")
    return number


def _cmd_plan(args: argparse.Namespace) -> int:
    from mlcost.aws.config_cache import default_cache_dir
    from mlcost.planner import plan_manifests

    manifests = _load_valid(args.filename, "plan")
    if manifests is None:
        return EXIT_ERROR
    return plan_manifests(
        manifests,
        region=args.region,
        endpoint_url=args.endpoint_url,
        output=args.output,
        max_findings=args.max_findings,
        cache_dir=None if args.no_cache else args.cache_dir or default_cache_dir(),
        endpoint_configs=args.endpoint_configs,
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from mlcost.demo import run_demo

    manifests = _load_valid([args.filename], "demo")
    if manifests is None:
        return EXIT_ERROR
    return run_demo(
        manifests,
        once=args.once,
        metrics_port=args.metrics_port,
        interval=args.interval,
    )


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, which `plan` uses for "changes pending": a typo in a CI
    job must read as an error (1), never as a plan with changes."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlcost", description="Govern the cost of SageMaker workloads, the GitOps way.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the operator against the current cluster")
    run.add_argument(
        "-n", "--namespace", action="append", help="watch only this namespace (repeatable); default: all"
    )
    run.add_argument("--metrics-port", type=int, help="port of /metrics (default 8080; 0 = off)")
    run.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="text (default) or json: one JSON object per line, for a log pipeline (MLCOST_LOG_FORMAT)",
    )
    run.add_argument(
        "--standalone",
        action="store_true",
        help="do not join the kopf peering (MLCOST_PEERING): for a single replica only",
    )
    run.set_defaults(func=_cmd_run)

    crds = commands.add_parser("crds", help="write the CustomResourceDefinitions")
    crds.add_argument("-o", "--output", default="crds", help="directory (default: crds)")
    crds.set_defaults(func=_cmd_crds)

    validate = commands.add_parser("validate", help="check manifests against the API")
    validate.add_argument("-f", "--filename", action="append", required=True, help="file or directory")
    validate.set_defaults(func=_cmd_validate)

    plan = commands.add_parser(
        "plan", help="show what the operator would change in AWS (exit 0: none, 2: changes, 1: error)"
    )
    plan.add_argument("-f", "--filename", action="append", required=True, help="file or directory")
    plan.add_argument("--region", help="region for policies without spec.aws.region")
    plan.add_argument("--endpoint-url", help="send AWS calls here (an embedded or local AWS)")
    plan.add_argument(
        "-o",
        "--output",
        choices=("text", "json", "markdown"),
        default="text",
        help="text (default), json (schema mlcost.io/plan/v1, see docs/plan-output.md) or markdown",
    )
    plan.add_argument(
        "--max-findings",
        type=_non_negative,
        default=50,
        metavar="N",
        help="findings listed per policy (default 50; 0 = all); the output says how many were left out",
    )
    plan.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="keep described endpoint configs here (default: MLCOST_CACHE_DIR, else $XDG_CACHE_HOME/mlcost)",
    )
    plan.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the endpoint-config cache"
    )
    plan.add_argument(
        "--endpoint-configs",
        choices=("needed", "always"),
        help="describe endpoint configs only for endpoint rules (needed: the default, or "
        "MLCOST_ENDPOINT_CONFIGS) or always, so that every finding on an endpoint has a cost",
    )
    plan.set_defaults(func=_cmd_plan)

    demo = commands.add_parser("demo", help="reconcile the examples against an embedded AWS")
    demo.add_argument("-f", "--filename", default="examples", help="manifests (default: examples)")
    demo.add_argument("--once", action="store_true", help="exit after one sweep")
    demo.add_argument("--metrics-port", type=int, default=9090, help="port of /metrics (0 = off)")
    demo.add_argument("--interval", type=float, default=30.0, help="seconds between sweeps")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "run":  # `run` sets up its own logging, in the format of its settings
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
