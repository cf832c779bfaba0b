"""Load mlcost.io manifests from files and folders and check them as the API server would."""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mlcost.api.crd import openapi_schema
from mlcost.api.types import ApiModel
from mlcost.api.v1alpha1 import EndpointRightsizing, MLCostPolicy, MLCostReport
from mlcost.constants import (
    API_VERSION,
    ENDPOINTRIGHTSIZING_KIND,
    GROUP,
    MLCOSTPOLICY_KIND,
    MLCOSTREPORT_KIND,
)

Manifest = MLCostPolicy | EndpointRightsizing | MLCostReport
"""A parsed object of any mlcost.io kind."""
_M = TypeVar("_M", bound=ApiModel)

MODELS: dict[str, type[MLCostPolicy] | type[EndpointRightsizing] | type[MLCostReport]] = {
    MLCOSTPOLICY_KIND: MLCostPolicy,
    ENDPOINTRIGHTSIZING_KIND: EndpointRightsizing,
    MLCOSTREPORT_KIND: MLCostReport,
}

YAML_SUFFIXES = (".yaml", ".yml")
TOP_LEVEL_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")

# What the API server demands of names: a DNS subdomain for objects, a DNS label for namespaces.
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_NAMESPACE = re.compile(rf"^{_DNS_LABEL}$")


@dataclass(frozen=True)
class ManifestError:
    """One problem in one manifest, located as precisely as the input allows."""

    file: Path
    object: str
    """The object as kubectl would name it, e.g. "MLCostPolicy team-fraud/fraud-detection"."""
    field: str
    """Field path in the manifest's own spelling, e.g. "spec.budget.notifications[0].threshold"."""
    message: str
    line: int | None = None
    """1-based line in the file, where known."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return ": ".join(part for part in (where, self.object, self.field, self.message) if part)


class InvalidManifestsError(Exception):
    """Raised with every problem found when manifests cannot be loaded or parsed."""

    def __init__(self, errors: Sequence[ManifestError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


@dataclass(frozen=True)
class LoadedManifest:
    """One mlcost.io document of a YAML file, as read (not yet validated)."""

    path: Path
    index: int
    """0-based position of the document in its file (documents are separated by ---)."""
    obj: dict[str, Any]
    line: int = 1
    """1-based line where the document starts."""
    node: yaml.Node | None = field(default=None, repr=False, compare=False)
    """The YAML node tree, kept to point errors at their line."""

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str | None:
        metadata = self.obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return name if isinstance(name, str) and name else None

    @property
    def namespace(self) -> str | None:
        metadata = self.obj.get("metadata")
        namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
        return namespace if isinstance(namespace, str) and namespace else None

    @property
    def ref(self) -> str:
        """How errors and the CLI name the object: "MLCostPolicy team-fraud/fraud-detection"."""
        kind = self.kind or "object"
        if self.name is None:
            return f"{kind} (document {self.index + 1}, no name)"
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"

    def error(self, loc: Sequence[str | int], message: str, line: int | None = None) -> ManifestError:
        """A ManifestError at `loc` (path parts as in the manifest) of this document."""
        if line is None:
            line = _line_of(self.node, loc) if self.node is not None else self.line
        return ManifestError(self.path, self.ref, format_path(loc), message, line)


# ---------------------------------------------------------------------------------------------
# Reading


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings, as kubectl's YAML-to-JSON conversion does."""


# Without this, an unquoted `lastUpdated: 2026-11-27T10:00:00Z` would become a datetime that no
# JSON document (and so no API request) can hold.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_files(paths: Sequence[Path], errors: list[ManifestError]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            # Hidden folders (.git, .github) hold no manifests and may be huge.
            found = (
                candidate
                for candidate in path.rglob("*")
                if candidate.suffix in YAML_SUFFIXES
                and candidate.is_file()
                and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
            )
            files.extend(sorted(found))
        elif path.is_file():
            files.append(path)  # named explicitly: read whatever its suffix
        else:
            errors.append(ManifestError(path, "", "", "no such file or directory"))
    return list(dict.fromkeys(files))  # a file named twice (or inside a named folder) counts once


def _is_mlcost(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    api_version = obj.get("apiVersion")
    if isinstance(api_version, str):
        return api_version.split("/", 1)[0] == GROUP
    # A document of our kinds without apiVersion is a mistake worth reporting, not skipping.
    return api_version is None and obj.get("kind") in MODELS


def _syntax_error(path: Path, exc: yaml.YAMLError) -> ManifestError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        context = f" ({exc.context})" if exc.context else ""
        message = f"YAML syntax error at column {mark.column + 1}: {exc.problem}{context}"
        return ManifestError(path, "", "", message, line=mark.line + 1)
    return ManifestError(path, "", "", f"YAML syntax error: {exc}")


def _read_file(path: Path) -> tuple[list[LoadedManifest], list[ManifestError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [ManifestError(path, "", "", f"cannot read the file: {exc}")]
    manifests: list[LoadedManifest] = []
    loader = _Loader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node() said there is one
                break
            obj = loader.construct_document(node)
            if _is_mlcost(obj):
                manifests.append(LoadedManifest(path, index, obj, node.start_mark.line + 1, node))
            index += 1
    except yaml.YAMLError as exc:
        # The documents before the broken one are still returned; nothing after it can be trusted.
        return manifests, [_syntax_error(path, exc)]
    finally:
        loader.dispose()
    return manifests, []


def read_manifests(paths: Sequence[Path]) -> tuple[list[LoadedManifest], list[ManifestError]]:
    """Read the mlcost.io documents of files and folders (recursively, *.yaml and *.yml).

    Documents of other API groups are skipped. Unreadable files and YAML syntax errors are
    returned as errors next to every document that could be read.
    """
    errors: list[ManifestError] = []
    manifests: list[LoadedManifest] = []
    for path in _yaml_files(paths, errors):
        file_manifests, file_errors = _read_file(path)
        manifests.extend(file_manifests)
        errors.extend(file_errors)
    return manifests, errors


def load_manifests(paths: list[Path]) -> list[LoadedManifest]:
    """Read the mlcost.io documents of files and folders; raise InvalidManifestsError if any
    file cannot be read or parsed as YAML."""
    manifests, errors = read_manifests(paths)
    if errors:
        raise InvalidManifestsError(errors)
    return manifests


# ---------------------------------------------------------------------------------------------
# Validating


def format_path(loc: Sequence[str | int]) -> str:
    """("spec", "budget", "notifications", 0, "threshold") -> "spec.budget.notifications[0].threshold"."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            text += f".{part}" if text else part
        else:  # a map key such as a tag "mlcost.io/owner": quoted, so the dots are not a path
            text += f"[{json.dumps(part)}]"
    return text


def _line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """The line of the deepest node along `loc` (the parent's, for a field that is missing)."""
    if node is None:
        return None
    line = node.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next((pair for pair in node.value if pair[0].value == part), None)
            if match is None:
                break
            line, node = match[0].start_mark.line, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1


def _duplicate_keys(
    node: yaml.Node, loc: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], int]]:
    """(path, 1-based line) of every key that repeats an earlier key of the same mapping."""
    # YAML loaders keep the last of two equal keys without a word; the API server's strict field
    # validation rejects the request, so the first copy was surely not meant to be ignored.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                continue
            if key in seen and key != "<<":
                yield (*loc, key), key_node.start_mark.line + 1
            seen.add(key)
            yield from _duplicate_keys(value_node, (*loc, key))
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, position))


@functools.cache
def _schema(kind: str) -> dict[str, Any]:
    return openapi_schema(MODELS[kind])


def _schema_node(kind: str, loc: Sequence[str | int]) -> dict[str, Any] | None:
    """The CRD schema node of a field (to name its siblings and describe it), if there is one."""
    node: Any = _schema(kind)
    for part in loc:
        if isinstance(part, int):
            node = node.get("items")
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        else:
            node = node.get("additionalProperties")
        if not isinstance(node, dict):
            return None
    return dict(node)


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML, for messages."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _unknown_field(kind: str, loc: Sequence[str | int]) -> str:
    name = str(loc[-1])
    parent = _schema_node(kind, loc[:-1]) or {}
    known = list(parent.get("properties", {}))
    # snake_case or a different case of a real field is the commonest slip; then plain typos.
    squashed = {re.sub(r"[_-]", "", field_name).lower(): field_name for field_name in known}
    guess = squashed.get(re.sub(r"[_-]", "", name).lower())
    if guess is None:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        guess = close[0] if close else None
    hint = f'; did you mean "{guess}"?' if guess else ""
    if not hint and known:
        hint = f"; known fields: {', '.join(known)}"
    return f'unknown field "{name}"{hint}'


def _quote_hint(value: Any, node: Mapping[str, Any] | None) -> str:
    # `limit: 5000` is the typical slip: YAML reads a number where the API wants a string.
    wants_string = node is not None and node.get("type") == "string"
    if wants_string and isinstance(value, int | float) and not isinstance(value, bool):
        return f'; quote it in YAML: "{value}"'
    return ""


def _must_be(what: str) -> Callable[[Any, Mapping[str, Any]], str]:
    return lambda value, _ctx: f"must be {what}, not {_show(value)}"


# pydantic's error types -> our wording: say what the field must be and what was found.
_MESSAGES: dict[str, Callable[[Any, Mapping[str, Any]], str]] = {
    "string_type": _must_be("a string"),
    "int_type": _must_be("a whole number"),
    "int_parsing": _must_be("a whole number"),
    "int_from_float": _must_be("a whole number"),
    "bool_type": _must_be("true or false"),
    "bool_parsing": _must_be("true or false"),
    "model_type": _must_be("a mapping of fields"),
    "model_attributes_type": _must_be("a mapping of fields"),
    "dict_type": _must_be("a mapping"),
    "list_type": _must_be("a list"),
    "greater_than_equal": lambda value, ctx: f"must be at least {ctx['ge']}, not {_show(value)}",
    "greater_than": lambda value, ctx: f"must be greater than {ctx['gt']}, not {_show(value)}",
    "too_long": lambda _value, ctx: (
        f"at most {ctx['max_length']} items allowed, found {ctx['actual_length']}"
    ),
}


def _message(kind: str, error: ErrorDetails) -> str:
    loc, error_type, value = error["loc"], error["type"], error.get("input")
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    node = _schema_node(kind, loc)
    description = f" ({node['description'].rstrip('.')})" if node and node.get("description") else ""
    if error_type == "missing":
        return f"required field is missing{description}"
    if error_type == "extra_forbidden":
        return _unknown_field(kind, loc)
    if error_type in ("enum", "literal_error") and node and node.get("enum"):
        return f"must be one of {', '.join(map(str, node['enum']))}, not {_show(value)}"
    if error_type == "string_pattern_mismatch":
        return f"{_show(value)} is not valid{description}; it must match {ctx.get('pattern')}"
    if error_type == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    if error_type in ("value_error", "assertion_error"):
        text = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    elif error_type in _MESSAGES:
        text = _MESSAGES[error_type](value, ctx)
    else:
        text = error["msg"]
    return text + _quote_hint(value, node)


def _to_json(value: Any) -> Any:
    # YAML can hold what JSON cannot (binary, sets); the API server would refuse those too, and
    # the model then reports the field as having the wrong type.
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


def _validate_strictly(model: type[_M], obj: Mapping[str, Any]) -> _M:
    # JSON mode and strict, like the API server's decoding: "5" is not an integer, "true" not a
    # boolean, and only the camelCase names exist (the models also accept snake_case in code).
    return model.model_validate_json(
        json.dumps(obj, default=_to_json), strict=True, by_alias=True, by_name=False
    )


def parse_policy(obj: Mapping[str, Any]) -> MLCostPolicy:
    """Parse a whole MLCostPolicy object (a manifest or an API body); raise ValidationError."""
    return _validate_strictly(MLCostPolicy, obj)


def parse_rightsizing(obj: Mapping[str, Any]) -> EndpointRightsizing:
    """Parse a whole EndpointRightsizing object; raise pydantic's ValidationError."""
    return _validate_strictly(EndpointRightsizing, obj)


def parse_report(obj: Mapping[str, Any]) -> MLCostReport:
    """Parse a whole MLCostReport object; raise pydantic's ValidationError."""
    return _validate_strictly(MLCostReport, obj)


def _metadata_problems(manifest: LoadedManifest) -> list[ManifestError]:
    metadata = manifest.obj.get("metadata")
    if not isinstance(metadata, dict):
        return [manifest.error(["metadata"], "required: a mapping with at least a name")]
    problems = []
    name = metadata.get("name")
    if name is None or name == "":
        problems.append(manifest.error(["metadata", "name"], "required: every object needs a name"))
    elif not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        problems.append(
            manifest.error(
                ["metadata", "name"],
                f"{_show(name)} is not a valid name: lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit, at most 253 characters",
            )
        )
    namespace = metadata.get("namespace")
    if namespace is not None and (
        not isinstance(namespace, str) or len(namespace) > 63 or not _NAMESPACE.match(namespace)
    ):
        problems.append(
            manifest.error(
                ["metadata", "namespace"],
                f"{_show(namespace)} is not a valid namespace: lowercase letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters",
            )
        )
    return problems


def _check(manifest: LoadedManifest) -> tuple[Manifest | None, list[ManifestError]]:
    obj = manifest.obj
    if manifest.api_version != API_VERSION:
        message = (
            f"required: {API_VERSION}"
            if "apiVersion" not in obj
            else f"unknown apiVersion {_show(obj['apiVersion'])}: this mlcost knows {API_VERSION}"
        )
        return None, [manifest.error(["apiVersion"], message)]
    model = MODELS.get(manifest.kind)
    if model is None:
        known = ", ".join(MODELS)
        message = f"unknown kind {_show(obj.get('kind'))} in {GROUP}: expected one of {known}"
        return None, [manifest.error(["kind"], message)]

    problems = [
        manifest.error(loc, f'duplicate key "{loc[-1]}": YAML would silently keep only the last', line)
        for loc, line in (_duplicate_keys(manifest.node) if manifest.node is not None else ())
    ]
    problems.extend(
        manifest.error([key], _unknown_field(manifest.kind, [key]))
        for key in obj
        if key not in TOP_LEVEL_FIELDS
    )
    problems.extend(_metadata_problems(manifest))
    # status is written by the operator: the API server ignores it in a manifest, and so do we.
    document = {key: value for key, value in obj.items() if key in TOP_LEVEL_FIELDS[:4]}
    try:
        parsed: Manifest | None = _validate_strictly(model, document)
    except ValidationError as exc:
        parsed = None
        for error in exc.errors(include_url=False):
            if error["loc"][:1] == ("metadata",) and error["loc"][1:2] in ((), ("name",), ("namespace",)):
                continue  # reported above, with a better message
            problems.append(manifest.error(error["loc"], _message(manifest.kind, error)))
    problems.sort(key=lambda problem: problem.line or 0)  # in the order the reader meets them
    return (parsed if not problems else None), problems


def validate_manifest(manifest: LoadedManifest) -> list[ManifestError]:
    """Every problem of one document: kind, metadata, and the spec against its model."""
    return _check(manifest)[1]


def parse_manifest(manifest: LoadedManifest) -> Manifest:
    """The document as its model; raise InvalidManifestsError with every problem found."""
    parsed, problems = _check(manifest)
    if parsed is None:
        raise InvalidManifestsError(problems)
    return parsed


def validate_manifests(manifests: Sequence[LoadedManifest]) -> list[ManifestError]:
    """Every problem of every document, plus objects defined twice (kind, namespace, name)."""
    errors: list[ManifestError] = []
    first_seen: dict[tuple[str, str, str], LoadedManifest] = {}
    for manifest in manifests:
        errors.extend(validate_manifest(manifest))
        if manifest.name is None:
            continue
        key = (manifest.kind, manifest.namespace or "", manifest.name)
        first = first_seen.setdefault(key, manifest)
        if first is not manifest:
            errors.append(
                manifest.error(
                    ["metadata", "name"],
                    f"{manifest.ref} is defined twice: also in {first.path}:{first.line}",
                )
            )
    return errors


def validate_paths(paths: Sequence[Path]) -> list[ManifestError]:
    """Read and validate files and folders: every problem, YAML syntax errors included."""
    manifests, errors = read_manifests(paths)
    return errors + validate_manifests(manifests)
