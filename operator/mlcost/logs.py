"""How the operator logs: one line per event, as text or JSON, with AWS errors summarised."""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

# A log line is read by people and parsed by pipelines: keep any one message bounded.
MAX_MESSAGE = 2000
# A server error page (HTML from a proxy or load balancer) says little beyond its first words.
MAX_MARKUP = 300

_MARKUP = re.compile(r"<\s*(!doctype|html|head|body|title|h1|p|div|br)\b", re.IGNORECASE)
_INVISIBLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# kopf's line after every event handler; ours only note when a resync is due (handlers/main.py).
_SCHEDULED = re.compile(r"^Handler 'schedule_[a-z_]+' succeeded\.$")
_PEERING_MISSING = re.compile(
    r"^Keep-alive in '(?P<name>[^']+)' (?P<where>cluster-wide|in '[^']+'): not found\.$"
)


def summarise(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` fit for one log line: an HTML page reduced to its words, anything long cut short."""
    if _MARKUP.search(text):
        text = _SPACE.sub(" ", _TAG.sub(" ", _INVISIBLE.sub(" ", text))).strip()
        limit = min(limit, MAX_MARKUP)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    return text


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def aws_error_summary(exc: BaseException | None) -> str | None:
    """'AWS <operation> failed: <code>: <message> (HTTP <status>)' for a botocore ClientError in
    the exception's chain, else None. Duck-typed: only mlcost.aws imports botocore."""
    for link in _chain(exc):
        response = getattr(link, "response", None)
        operation = getattr(link, "operation_name", None)
        if isinstance(response, dict) and operation:
            error = response.get("Error") or {}
            status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
            message = summarise(str(error.get("Message") or ""), MAX_MARKUP)
            return f"AWS {operation} failed: {error.get('Code', 'Unknown')}: {message}" + (
                f" (HTTP {status})" if status else ""
            )
    return None


# The object being reconciled, for lines logged by module loggers (mlcost.reconcile.*) while
# a handler works on it; asyncio.to_thread copies it into the reconcile's thread.
_current_object: ContextVar[dict[str, str] | None] = ContextVar("mlcost_current_object", default=None)


@contextmanager
def about_object(namespace: str | None, name: str, kind: str) -> Iterator[None]:
    """Lines logged inside carry this object's namespace, name and kind."""
    token = _current_object.set({"namespace": namespace or "", "name": name, "kind": kind})
    try:
        yield
    finally:
        _current_object.reset(token)


def _object_of(record: logging.LogRecord) -> dict[str, str]:
    """namespace, name and kind of the object a line is about: a kopf object logger's own, or
    the one a handler is reconciling."""
    ref = getattr(record, "k8s_ref", None)
    if not isinstance(ref, dict):
        ref = _current_object.get()
    if not ref:
        return {}
    return {key: str(ref[key]) for key in ("namespace", "name", "kind") if ref.get(key)}


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Formatter(logging.Formatter):
    def __init__(self, *, verbose: bool = False) -> None:
        super().__init__()
        self.verbose = verbose

    def error_of(self, record: logging.LogRecord) -> tuple[str | None, str | None]:
        """(one-line error, traceback or None). An AWS error is its summary: a traceback of a
        botocore ClientError repeats the response body, which may be a whole HTML page."""
        if not record.exc_info or record.exc_info[1] is None:
            return None, None
        exc = record.exc_info[1]
        aws = aws_error_summary(exc)
        if aws is not None and not self.verbose:
            return aws, None
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return aws or summarise(f"{type(exc).__name__}: {exc}"), summarise(text, 20 * MAX_MESSAGE)


class TextFormatter(_Formatter):
    """`2026-12-01T21:35:00.123Z INFO kopf.objects [team-a/policy] message`."""

    def format(self, record: logging.LogRecord) -> str:
        obj = _object_of(record)
        message = summarise(record.getMessage())
        where = ""
        if obj.get("name"):
            key = f"{obj['namespace']}/{obj['name']}" if obj.get("namespace") else obj["name"]
            # mlcost.reconcile's lines start with the object already: say it once.
            where = "" if message.startswith(f"{key}: ") else f"[{key}] "
        line = f"{_time(record)} {record.levelname} {record.name}: {where}{message}"
        error, trace = self.error_of(record)
        if error and error not in line:
            line += f" ({error})"
        return f"{line}\n{trace}" if trace else line


class JsonFormatter(_Formatter):
    """One JSON object per line: time, level, logger, message, and for a line about an object
    its namespace, name and kind; an exception as `error` (and `traceback` unless AWS's)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": summarise(record.getMessage()),
            **_object_of(record),
        }
        error, trace = self.error_of(record)
        if error:
            entry["error"] = error
        if trace:
            entry["traceback"] = trace
        return json.dumps(entry, ensure_ascii=False, default=str)


class QuietScheduling(logging.Filter):
    """Drop kopf's "Handler 'schedule_...' succeeded." that follows every watch event of every
    object (the handler only notes when its next resync is due): with 500 objects that is a line
    per status write, saying nothing. With -v (DEBUG) it stays, as DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not _SCHEDULED.match(record.getMessage()):
            return True
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class PeeringAdvice(logging.Filter):
    """kopf says only at DEBUG that the peering object is missing, and then stays paused for
    good: turn that into a WARNING that says what to do; drop its other DEBUG lines unless -v."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            return True
        missing = _PEERING_MISSING.match(record.getMessage())
        if missing:
            kind = "ClusterKopfPeering" if missing["where"] == "cluster-wide" else "KopfPeering"
            where = "" if missing["where"] == "cluster-wide" else f" {missing['where']}"
            record.msg = (
                f"The {kind} {missing['name']!r}{where} does not exist, so this operator stays passive "
                "and reconciles nothing: restart the operator so that it creates it (it needs `create` on "
                "clusterkopfpeerings / kopfpeerings, group kopf.dev, as deploy/rbac.yaml grants), create "
                "it yourself, set MLCOST_PEERING to an existing one, or run a single replica with "
                "--standalone."
            )
            record.args = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            return True
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def install_filters() -> None:
    """Attach the filters to kopf's loggers (idempotent; also where kopf's CLI set up logging)."""
    targets: list[tuple[str, type[logging.Filter]]] = [
        ("kopf.objects", QuietScheduling),
        ("kopf._core.engines.peering", PeeringAdvice),
    ]
    for name, kind in targets:
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
    # kopf logs the missing peering object at DEBUG only; PeeringAdvice needs to see it.
    logging.getLogger("kopf._core.engines.peering").setLevel(logging.DEBUG)


def setup(log_format: LogFormat = "text", *, verbose: bool = False, level: int | None = None) -> None:
    """One handler on the root logger (to stderr), so each event is one line, once."""
    formatter: logging.Formatter = (
        JsonFormatter(verbose=verbose) if log_format == "json" else TextFormatter(verbose=verbose)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level is not None else logging.DEBUG if verbose else logging.INFO)
    # As kopf.configure does: asyncio's debug chatter only with -v. aiohttp logs every
    # /healthz probe at INFO: that is noise, not an event.
    logging.getLogger("asyncio").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.DEBUG if verbose else logging.WARNING)
    install_filters()
