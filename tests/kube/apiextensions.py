"""What a real kube-apiserver checks on a CustomResourceDefinition, and what it does to custom
resources on every write (pruning, defaulting), written from its source.

The rules come from k8s.io/apiextensions-apiserver (read through the kubernetes/kubernetes
staging tree, 1.30-1.33 era; the rules quoted have been stable since 1.25):

* ``pkg/apis/apiextensions/validation/validation.go``: names, group, scope, versions, the
  root of the schema, ``ValidateCustomResourceDefinitionOpenAPISchema`` (uniqueItems,
  additionalProperties next to properties, the ``x-kubernetes-*`` combinations,
  ``validateMapListKeysMapSet``, ``x-kubernetes-validations`` fields, oldSelf correlation,
  the static CEL cost limits), ``specStandardValidatorV3.validate`` (unsupported keywords,
  forbidden defaults), printer columns and subresources;
* ``pkg/apiserver/schema/validation.go`` (``ValidateStructural``): every node typed, arrays
  with items, root metadata restricted to name/generateName, kind/apiVersion/metadata typed
  at the root and in embedded resources, int-or-string and embedded-resource rules, value
  validations (anyOf/allOf/oneOf/not) that must not carry types, descriptions, defaults or
  metadata, and ``pattern`` that compiles as an RE2 regexp;
* ``pkg/apiserver/schema/defaulting/validation.go`` (``ValidateDefaults``): a default must
  be pruned-stable ("must not have unknown fields") and validate against its own schema;
* ``pkg/apiserver/schema/pruning/algorithm.go`` and ``defaulting/algorithm.go``: what
  :func:`prune` and :func:`apply_defaults` do to objects;
* ``pkg/apiserver/validation/formats.go``: the string formats the server knows (an unknown
  format is only a warning there: :func:`format_warnings`);
* ``k8s.io/apiserver/pkg/apis/cel/config.go`` (celconfig) for the CEL cost limits, and
  cel-go's ``checker/cost.go`` for the shape of the static estimate.

Errors are :class:`FieldError`, printed as ``field.Error`` prints them (``<path>: <Type>:
<detail>``), so a test can compare against what ``kubectl apply`` shows. Where the server
moves a single version's schema to ``spec.validation`` (the internal API, which is what its
messages name when every version has the same schema, subresources and columns), so do we.

CEL rules are parsed with cel-python (``celpy``, PyPI ``cel-python``); it parses, and this
module type-checks field selections against the schema and estimates cost itself. What is
*not* checked: full CEL type checking (function overloads, return type bool), CEL rules
applied to defaults, ``messageExpression`` compilation, conversion webhooks, selectable
fields, and ratcheting. The cost estimate follows cel-go's constants but is not bit-exact.
"""

# The API server's messages stay whole on one line each, so that they can be found in its source.
# ruff: noqa: E501

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import celpy
import lark
from celpy.celparser import CELParseError

try:  # google-re2 (a cel-python dependency): the API server compiles `pattern` with Go's RE2
    import re2  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - cel-python always brings it
    re2 = None

JSON = dict[str, Any]

# ----- limits (k8s.io/apiserver/pkg/apis/cel/config.go; apiextensions validation.go) ----------

PER_CALL_LIMIT = 1_000_000  # celconfig.PerCallLimit: one evaluation, roughly 0.1 s
RUNTIME_CEL_COST_BUDGET = 10_000_000  # celconfig.RuntimeCELCostBudget: one object, roughly 1 s
STATIC_ESTIMATED_COST_LIMIT = 10_000_000  # validation.StaticEstimatedCostLimit: one rule
STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000  # validation.StaticEstimatedCRDCostLimit: all rules
MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024  # apiextensions' cel.maxRequestSizeBytes (etcd's limit)

# cel-go checker/cost.go constants
_SELECT_AND_IDENT_COST = 1
_CONST_COST = 0
_LIST_CREATE_BASE_COST = 10
_MAP_CREATE_BASE_COST = 30
_STRING_TRAVERSAL_COST_FACTOR = 0.1
_REGEX_STRING_LENGTH_COST_FACTOR = 0.25

OPENAPI_V3_TYPES = ("array", "boolean", "integer", "number", "object", "string")
PRINTER_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
PRINTER_COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
SUPPORTED_VALIDATION_REASONS = (
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
)
# formats.go supportedVersionedFormats (1.0 set plus k8s-short-name / k8s-long-name of 1.34);
# compared with '-' and '_' removed, as the server normalises them.
KNOWN_FORMATS = frozenset(
    {
        "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3",
        "uuid4", "uuid5", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor",
        "byte", "password", "date", "duration", "datetime", "k8sshortname", "k8slongname",
    }
)  # fmt: skip

# apiextensions.k8s.io/v1 JSONSchemaProps: every key an openAPIV3Schema node may carry at all.
SCHEMA_KEYS = frozenset(
    {
        "id", "$schema", "$ref", "description", "type", "format", "title", "default", "maximum",
        "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
        "maxItems", "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties", "minProperties",
        "required", "items", "allOf", "oneOf", "anyOf", "not", "properties", "additionalProperties",
        "patternProperties", "dependencies", "additionalItems", "definitions", "externalDocs",
        "example", "nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
        "x-kubernetes-map-type", "x-kubernetes-validations",
    }
)  # fmt: skip
# validation.go allowedFieldsAtRootSchema (Go field name -> JSON key), with a status subresource.
_ROOT_FIELDS = {
    "description": "Description", "type": "Type", "format": "Format", "title": "Title",
    "maximum": "Maximum", "exclusiveMaximum": "ExclusiveMaximum", "minimum": "Minimum",
    "exclusiveMinimum": "ExclusiveMinimum", "maxLength": "MaxLength", "minLength": "MinLength",
    "pattern": "Pattern", "maxItems": "MaxItems", "minItems": "MinItems", "uniqueItems": "UniqueItems",
    "multipleOf": "MultipleOf", "required": "Required", "items": "Items", "properties": "Properties",
    "externalDocs": "ExternalDocs", "example": "Example",
    "x-kubernetes-preserve-unknown-fields": "XPreserveUnknownFields",
    "x-kubernetes-validations": "XValidations",
}  # fmt: skip
_META_FIELDS = ("metadata", "kind", "apiVersion")
# ObjectMeta's JSON fields: what survives of `metadata` (the server decodes it into ObjectMeta).
OBJECT_META_FIELDS = frozenset(
    {
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
        "annotations", "ownerReferences", "finalizers", "managedFields",
    }
)  # fmt: skip

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


# ----- field errors (k8s.io/apimachinery/pkg/util/validation/field) ---------------------------


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclasses.dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: ``str()`` is the server's own wording (``<path>: <Type>: <detail>``)."""

    path: str
    type: str  # "Required value", "Forbidden", "Invalid value", "Unsupported value", "Duplicate value", ...
    detail: str = ""
    value: Any = None
    has_value: bool = False

    @property
    def reason(self) -> str:
        """The cause's reason in a Status body (metav1.CauseType)."""
        return {
            "Required value": "FieldValueRequired",
            "Forbidden": "FieldValueForbidden",
            "Invalid value": "FieldValueInvalid",
            "Unsupported value": "FieldValueNotSupported",
            "Duplicate value": "FieldValueDuplicate",
            "Too many": "FieldValueTooMany",
            "Internal error": "InternalError",
        }.get(self.type, "FieldValueInvalid")

    def body(self) -> str:
        text = self.type
        if self.has_value:
            text += f": {_go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.path}: {self.body()}"


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, "Required value", detail)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, "Forbidden", detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, "Invalid value", detail, value, True)


def not_supported(path: str, value: Any, supported: tuple[str, ...] | list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(v) for v in supported)
    return FieldError(path, "Unsupported value", detail, value, True)


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def invalid_status(kind: str, name: str, errors: list[FieldError]) -> JSON:
    """The 422 ``Status`` body that ``apierrors.NewInvalid`` makes of ``errors``."""
    unique = list(dict.fromkeys(str(e) for e in errors))
    aggregate = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
    group_kind, _, group = kind.partition(".")
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"{kind} {json.dumps(name)} is invalid: {aggregate}",
        "reason": "Invalid",
        "details": {
            "name": name,
            "group": group,
            "kind": group_kind,
            "causes": [{"reason": e.reason, "message": e.body(), "field": e.path} for e in errors],
        },
        "code": 422,
    }


CRD_KIND = "CustomResourceDefinition.apiextensions.k8s.io"


# ----- the CRD -----------------------------------------------------------------------------------


def default_crd(crd: dict[str, Any]) -> None:
    """What the API server fills in before it validates a CRD (``SetDefaults_CustomResourceDefinitionSpec``
    in apiextensions/v1/defaults.go): ``names.singular`` = lower(kind), ``names.listKind`` = kind + "List"."""
    names = (crd.get("spec") or {}).get("names")
    if not isinstance(names, dict) or not names.get("kind"):
        return
    names.setdefault("singular", str(names["kind"]).lower())
    names.setdefault("listKind", f"{names['kind']}List")


def validate_crd(crd: Mapping[str, Any]) -> list[FieldError]:
    """Every error the API server reports when this CRD (apiextensions.k8s.io/v1) is created.

    ``ValidateCustomResourceDefinition``: metadata.name, then the spec (group, scope, names,
    versions, and per version or, when all versions agree, once: schema, subresources and
    printer columns).
    """
    errors: list[FieldError] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    name = (crd.get("metadata") or {}).get("name") or ""
    if name != f"{names.get('plural', '')}.{group}":
        errors.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    errors += _validate_group_scope_names(spec)
    versions = spec.get("versions") or []
    errors += _validate_versions(versions)

    # internal API: identical per-version fields are hoisted to the spec (and named so).
    def same(field: str) -> bool:
        return len(versions) > 0 and all(v.get(field) == versions[0].get(field) for v in versions)

    hoisted = {field: same(field) for field in ("schema", "subresources", "additionalPrinterColumns")}
    for index, version in enumerate(versions):
        base = f"spec.versions[{index}]"
        status_enabled = "status" in (version.get("subresources") or {})
        if not hoisted["schema"] or index == 0:
            schema_path = "spec.validation" if hoisted["schema"] else f"{base}.schema"
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                errors.append(required(f"{schema_path}.openAPIV3Schema", "schemas are required"))
            else:
                errors += validate_schema(schema, f"{schema_path}.openAPIV3Schema", status_enabled)
        if not hoisted["subresources"] or index == 0:
            sub_path = "spec.subresources" if hoisted["subresources"] else f"{base}.subresources"
            errors += _validate_subresources(version.get("subresources"), sub_path)
        if not hoisted["additionalPrinterColumns"] or index == 0:
            col_path = (
                "spec.additionalPrinterColumns"
                if hoisted["additionalPrinterColumns"]
                else f"{base}.additionalPrinterColumns"
            )
            for i, column in enumerate(version.get("additionalPrinterColumns") or []):
                errors += _validate_column(column, f"{col_path}[{i}]")
    return errors


def _validate_group_scope_names(spec: Mapping[str, Any]) -> list[FieldError]:  # noqa: C901, PLR0912 - mirrors the Go function, rule by rule
    errors: list[FieldError] = []
    group = spec.get("group") or ""
    if not group:
        errors.append(required("spec.group"))
    elif not _DNS1123_SUBDOMAIN.match(group) or len(group) > 253:
        errors.append(invalid("spec.group", group, DNS1123_SUBDOMAIN_MESSAGE))
    elif len(group.split(".")) < 2:
        errors.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errors.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errors.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    names = spec.get("names") or {}
    for field in ("plural", "singular", "kind", "listKind"):
        if not names.get(field):
            errors.append(required(f"spec.names.{field}"))
    for field in ("plural", "singular"):
        value = names.get(field) or ""
        if value and not _dns1035(value):
            errors.append(invalid(f"spec.names.{field}", value, DNS1035_MESSAGE))
    for field in ("kind", "listKind"):
        value = names.get(field) or ""
        if value and not _dns1035(value.lower()):
            errors.append(
                invalid(
                    f"spec.names.{field}",
                    value,
                    "may have mixed case, but should otherwise match: " + DNS1035_MESSAGE,
                )
            )
    for field in ("shortNames", "categories"):
        for i, value in enumerate(names.get(field) or []):
            if not _dns1035(value):
                errors.append(invalid(f"spec.names.{field}[{i}]", value, DNS1035_MESSAGE))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errors.append(
            invalid("spec.names.listKind", names["listKind"], "kind and listKind may not be the same")
        )
    return errors


def _dns1035(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1035.match(value))


def _validate_versions(versions: list[Mapping[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        name = version.get("name") or ""
        if name in seen:
            unique = False
        seen.add(name)
        if not _dns1035(name):
            errors.append(invalid(f"spec.versions[{i}].name", name, DNS1035_MESSAGE))
    if not unique:
        errors.append(invalid("spec.versions", versions, "must contain unique version names"))
    if sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            invalid("spec.versions", versions, "must have exactly one version marked as storage version")
        )
    return errors


def _simple_json_path(path: Any, where: str) -> list[FieldError]:
    """validateSimpleJSONPath."""
    if not path:
        return [invalid(where, path or "", "must not be empty")]
    if not str(path).startswith("."):
        return [invalid(where, path, "must be a simple json path starting with .")]
    return []


def _validate_column(column: Mapping[str, Any], path: str) -> list[FieldError]:
    """ValidateCustomResourceColumnDefinition."""
    errors: list[FieldError] = []
    if not column.get("name"):
        errors.append(required(f"{path}.name"))
    kinds = ",".join(PRINTER_COLUMN_TYPES)
    if not column.get("type"):
        errors.append(required(f"{path}.type", f"must be one of {kinds}"))
    elif column["type"] not in PRINTER_COLUMN_TYPES:
        errors.append(invalid(f"{path}.type", column["type"], f"must be one of {kinds}"))
    if column.get("format") and column["format"] not in PRINTER_COLUMN_FORMATS:
        errors.append(
            invalid(f"{path}.format", column["format"], f"must be one of {','.join(PRINTER_COLUMN_FORMATS)}")
        )
    if int(column.get("priority") or 0) < 0:
        errors.append(invalid(f"{path}.priority", column["priority"], "priority value must not be negative"))
    if not column.get("jsonPath"):
        errors.append(required(f"{path}.JSONPath"))
    else:
        errors += _simple_json_path(column["jsonPath"], f"{path}.JSONPath")
    return errors


def _validate_subresources(sub: Mapping[str, Any] | None, path: str) -> list[FieldError]:
    """ValidateCustomResourceDefinitionSubresources (v1: status is an empty object)."""
    errors: list[FieldError] = []
    if not sub:
        return errors
    for key in set(sub) - {"status", "scale"}:
        errors.append(FieldError(f"{path}.{key}", "unknown field", f'unknown field "{key}"'))
    if "status" in sub and sub["status"] not in ({}, None):
        errors.append(FieldError(f"{path}.status", "unknown field", "status takes no fields"))
    scale = sub.get("scale")
    if scale is not None:
        for field, prefix in (("specReplicasPath", ".spec."), ("statusReplicasPath", ".status.")):
            where = f"{path}.scale.{field}"
            value = scale.get(field)
            if not value:
                errors.append(required(where))
            elif path_errors := _simple_json_path(value, where):
                errors += path_errors
            elif not value.startswith(prefix):
                errors.append(invalid(where, value, f"should be a json path under {prefix.rstrip('.')}"))
        selector = scale.get("labelSelectorPath")
        if selector:
            where = f"{path}.scale.labelSelectorPath"
            if path_errors := _simple_json_path(selector, where):
                errors += path_errors
            elif not selector.startswith((".spec.", ".status.")):
                errors.append(invalid(where, selector, "should be a json path under either .spec or .status"))
    return errors


# ----- the schema ------------------------------------------------------------------------------


def validate_schema(schema: Mapping[str, Any], path: str, status_enabled: bool = True) -> list[FieldError]:
    """Every error of one openAPIV3Schema, as validateCustomResourceDefinitionValidation gives them.

    Order as the server's: root-only rules, then the structural schema (``ValidateStructural``,
    whose errors stop here, as the server then skips defaults and CEL), then defaults, then the
    per-node OpenAPI rules with CEL, then the CRD-wide CEL cost.
    """
    errors: list[FieldError] = []
    if status_enabled:
        if schema.get("type", "object") != "object":
            errors.append(
                invalid(
                    f"{path}.type",
                    schema["type"],
                    'only "object" is allowed as the type at the root of the schema if the status subresource is enabled',
                )
            )
        extra = [key for key in schema if key not in _ROOT_FIELDS]
        if extra:
            allowed = "[" + " ".join(_ROOT_FIELDS.values()) + "]"
            errors.append(
                invalid(
                    path,
                    dict(schema),
                    f"only {allowed} fields are allowed at the root of the schema if the status subresource is enabled",
                )
            )
    if schema.get("nullable"):
        errors.append(forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
    unknown = list(_unknown_keys(schema, path))
    if unknown:
        return errors + unknown
    structural = validate_structural(schema, path)
    node_errors, cel_errors, costs = _validate_nodes(schema, path, _Ctx(is_root=True))
    errors += node_errors
    if structural:
        # The server shows structural errors only; defaults and CEL need a structural schema.
        return errors + structural
    errors += validate_defaults(schema, path)
    if node_errors:
        return errors  # "If any schema related validation errors have been found ... skip CEL"
    errors += cel_errors
    total = sum(cost for _, cost in costs)
    if total > STATIC_ESTIMATED_CRD_COST_LIMIT:
        for rule_path, _cost in sorted(costs, key=lambda item: -item[1])[:4]:
            errors.append(
                forbidden(
                    rule_path,
                    "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
                )
            )
        errors.append(
            forbidden(
                path,
                _cost_message(
                    "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
                    total,
                    STATIC_ESTIMATED_CRD_COST_LIMIT,
                ),
            )
        )
    return errors


def _unknown_keys(node: Any, path: str) -> Iterator[FieldError]:
    """Keys JSONSchemaProps does not have: the server's strict decoding refuses the CRD."""
    if not isinstance(node, Mapping):
        return
    for key in node:
        if key not in SCHEMA_KEYS:
            yield FieldError(f"{path}.{key}", "unknown field", f'unknown field "{key}"')
    for name, child in (node.get("properties") or {}).items():
        yield from _unknown_keys(child, _key(f"{path}.properties", name))
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), Mapping):
            yield from _unknown_keys(node[key], f"{path}.{key}")
    for key in ("allOf", "anyOf", "oneOf"):
        for i, child in enumerate(node.get(key) or []):
            yield from _unknown_keys(child, f"{path}.{key}[{i}]")


def _cost_message(name: str, cost: float, limit: int) -> str:
    """getCostErrorMessage."""
    factor = cost / limit
    if factor > 100.0:
        text = "more than 100x"
    elif factor < 1.5:
        text = f"{factor:f}x"
    else:
        text = f"{factor:.1f}x"
    return (
        f"{name} exceeds budget by factor of {text} (try simplifying the rule, or adding maxItems, "
        "maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )


# ----- structural schema (pkg/apiserver/schema/validation.go) ----------------------------------

_ROOT, _ITEM, _FIELD = "root", "item", "field"
_VALUE_VALIDATION_KEYS = ("allOf", "anyOf", "oneOf", "not")
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def validate_structural(schema: Mapping[str, Any], path: str) -> list[FieldError]:
    """``ValidateStructural``: the structural invariants and completeness, sorted as the server sorts."""
    errors = list(_structural_invariants(schema, _ROOT, path))
    errors += _completeness(schema, path)
    return sorted(errors, key=str)


def _structural_invariants(s: Mapping[str, Any], level: str, path: str) -> Iterator[FieldError]:  # noqa: C901, PLR0912 - mirrors the Go function, rule by rule
    kind = s.get("type") or ""
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    properties: Mapping[str, Any] = s.get("properties") or {}
    if kind == "array" and s.get("items") is None:
        yield required(f"{path}.items", "must be specified")
    if isinstance(s.get("items"), Mapping):
        yield from _structural_invariants(s["items"], _ITEM, f"{path}.items")
    for name, child in properties.items():
        yield from _structural_invariants(child, _FIELD, _key(f"{path}.properties", name))
    additional = s.get("additionalProperties")
    if additional is not None:
        if level == _ROOT:
            yield forbidden(f"{path}.additionalProperties", "must not be used at the root")
        if isinstance(additional, Mapping):
            yield from _structural_invariants(additional, _FIELD, f"{path}.additionalProperties")
    if int_or_string and preserve:
        yield invalid(
            f"{path}.x-kubernetes-preserve-unknown-fields",
            True,
            "must be false if x-kubernetes-int-or-string is true",
        )
    if int_or_string and embedded:
        yield invalid(
            f"{path}.x-kubernetes-embedded-resource",
            True,
            "must be false if x-kubernetes-int-or-string is true",
        )
    yield from _value_validation(s, level, path, skip_any_of=s.get("anyOf") == _INT_OR_STRING_ANY_OF)
    if embedded and kind != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        yield required(f"{path}.type", detail) if not kind else invalid(f"{path}.type", kind, detail)
    elif not kind and not int_or_string and not preserve:
        detail = {
            _ROOT: "must not be empty at the root",
            _ITEM: "must not be empty for specified array items",
            _FIELD: "must not be empty for specified object fields",
        }[level]
        yield required(f"{path}.type", detail)
    if embedded and additional is not None:
        yield forbidden(
            f"{path}.additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"
        )
    if level == _ROOT and kind and kind != "object":
        yield invalid(f"{path}.type", kind, "must be object at the root")
    check_metadata = level == _ROOT or embedded
    if check_metadata:
        for field in ("kind", "apiVersion"):
            if field in properties and properties[field].get("type") != "string":
                yield invalid(
                    _key(f"{path}.properties", field) + ".type",
                    properties[field].get("type", ""),
                    "must be string",
                )
        if "metadata" in properties and properties["metadata"].get("type") != "object":
            yield invalid(
                _key(f"{path}.properties", "metadata") + ".type",
                properties["metadata"].get("type", ""),
                "must be object",
            )
    if level == _ROOT and "metadata" in properties:
        # Only `type: object`, and properties that are exactly {name} / {generateName} / both
        # (their own schemas are not compared), may be there; a default is checked elsewhere.
        metadata = dict(properties["metadata"])
        meta_props = metadata.get("properties") or {}
        if meta_props and set(meta_props) <= {"name", "generateName"}:
            metadata.pop("properties")
        metadata.pop("type", None)
        metadata.pop("default", None)
        if metadata:
            yield forbidden(
                _key(f"{path}.properties", "metadata"),
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            )
    if embedded and not preserve and not properties:
        yield required(
            f"{path}.properties",
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        )


def _value_validation(
    s: Mapping[str, Any], level: str, path: str, *, skip_any_of: bool = False
) -> Iterator[FieldError]:
    """validateValueValidation: what may appear under anyOf/allOf/oneOf/not, and `pattern`."""
    if not skip_any_of:
        for i, nested in enumerate(s.get("anyOf") or []):
            yield from _nested_value_validation(nested, level, f"{path}.anyOf[{i}]")
    for i, nested in enumerate(s.get("allOf") or []):
        skip = i == 0 and (nested.get("anyOf") == _INT_OR_STRING_ANY_OF)
        yield from _nested_value_validation(nested, level, f"{path}.allOf[{i}]", skip_any_of=skip)
    for i, nested in enumerate(s.get("oneOf") or []):
        yield from _nested_value_validation(nested, level, f"{path}.oneOf[{i}]")
    if isinstance(s.get("not"), Mapping):
        yield from _nested_value_validation(s["not"], level, f"{path}.not")
    pattern = s.get("pattern")
    if pattern:
        problem = _re2_error(pattern)
        if problem is not None:
            yield invalid(
                f"{path}.pattern", pattern, f"must be a valid regular expression, but isn't: {problem}"
            )


def _re2_error(pattern: str) -> str | None:
    """Go's regexp and RE2 refuse the same patterns (no lookaround, no backreferences)."""
    try:
        if re2 is not None:
            options = re2.Options()
            options.log_errors = False  # else RE2 writes each refused pattern to stderr
            re2.compile(pattern, options)
        else:  # pragma: no cover
            re.compile(pattern)
    except Exception as e:  # re2.error and re.error
        detail = e.args[0] if e.args else type(e).__name__
        detail = detail.decode() if isinstance(detail, bytes) else str(detail)
        return f"error parsing regexp: {detail}"
    return None


def _nested_value_validation(
    v: Mapping[str, Any], level: str, path: str, *, skip_any_of: bool = False
) -> Iterator[FieldError]:
    """validateNestedValueValidation: no generics or extensions inside value validation."""
    yield from _value_validation(v, level, path, skip_any_of=skip_any_of)
    if isinstance(v.get("items"), Mapping):
        yield from _nested_value_validation(v["items"], level, f"{path}.items")
    for name, child in (v.get("properties") or {}).items():
        yield from _nested_value_validation(child, _FIELD, _key(f"{path}.properties", name))
    for key, detail in (
        ("type", "must be empty to be structural"),
        ("additionalProperties", "must be undefined to be structural"),
        ("default", "must be undefined to be structural"),
        ("title", "must be empty to be structural"),
        ("description", "must be empty to be structural"),
        ("nullable", "must be false to be structural"),
        ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
        ("x-kubernetes-embedded-resource", "must be false to be structural"),
        ("x-kubernetes-int-or-string", "must be false to be structural"),
        ("x-kubernetes-list-map-keys", "must be empty to be structural"),
        ("x-kubernetes-list-type", "must be undefined to be structural"),
    ):
        if v.get(key) not in (None, False, "", []):
            yield forbidden(f"{path}.{key}", detail)
    if "metadata" in (v.get("properties") or {}):
        yield forbidden(_key(f"{path}.properties", "metadata"), "must not be specified in a nested context")


def _completeness(s: Mapping[str, Any], path: str) -> list[FieldError]:  # noqa: C901 - mirrors the Go function, rule by rule
    """validateStructuralCompleteness: a field or items named in value validation must also be
    specified outside of it."""
    errors: list[FieldError] = []

    def walk(node: Mapping[str, Any], at: str) -> None:
        for key in _VALUE_VALIDATION_KEYS:
            nested = node.get(key)
            for i, branch in enumerate([nested] if key == "not" else (nested or [])):
                if isinstance(branch, Mapping):
                    compare(node, at, branch, f"{at}.{key}" + ("" if key == "not" else f"[{i}]"))
        for name, child in (node.get("properties") or {}).items():
            walk(child, _key(f"{at}.properties", name))
        if isinstance(node.get("items"), Mapping):
            walk(node["items"], f"{at}.items")
        if isinstance(node.get("additionalProperties"), Mapping):
            walk(node["additionalProperties"], f"{at}.additionalProperties")

    def compare(spec: Mapping[str, Any] | None, at: str, vv: Mapping[str, Any], vv_at: str) -> None:
        spec = spec or {}
        if spec.get("x-kubernetes-preserve-unknown-fields") or spec.get("x-kubernetes-int-or-string"):
            return
        if isinstance(vv.get("items"), Mapping):
            if not isinstance(spec.get("items"), Mapping):
                errors.append(required(f"{at}.items", f"because it is defined in {vv_at}.items"))
            else:
                compare(spec["items"], f"{at}.items", vv["items"], f"{vv_at}.items")
        for name, child in (vv.get("properties") or {}).items():
            known = (spec.get("properties") or {}).get(name)
            if known is None and not isinstance(spec.get("additionalProperties"), Mapping):
                errors.append(
                    required(
                        _key(f"{at}.properties", name),
                        f"because it is defined in {_key(vv_at + '.properties', name)}",
                    )
                )
            elif known is not None:
                compare(known, _key(f"{at}.properties", name), child, _key(f"{vv_at}.properties", name))
        for key in _VALUE_VALIDATION_KEYS:
            nested = vv.get(key)
            for i, branch in enumerate([nested] if key == "not" else (nested or [])):
                if isinstance(branch, Mapping):
                    compare(spec, at, branch, f"{vv_at}.{key}" + ("" if key == "not" else f"[{i}]"))

    walk(s, path)
    return errors


# ----- per-node OpenAPI rules (validation.go ValidateCustomResourceDefinitionOpenAPISchema) ------


@dataclasses.dataclass(frozen=True)
class _Ctx:
    is_root: bool = False
    inside_meta: bool = False
    allow_defaults: bool = True
    no_defaults_reason: str = ""
    uncorrelatable: str | None = None  # the first ancestor that forbids oldSelf
    # How many times a rule here may run for one object: the product of the maxItems and
    # maxProperties above it, or None if one of them is unbounded (then the server estimates it
    # from the node's own minimal size: see _cardinality).
    cardinality: float | None = 1.0

    def replace(self, **changes: Any) -> _Ctx:
        return dataclasses.replace(self, **changes)


def _validate_nodes(  # noqa: C901 - mirrors the Go function, rule by rule
    s: Mapping[str, Any], path: str, ctx: _Ctx
) -> tuple[list[FieldError], list[FieldError], list[tuple[str, float]]]:
    """(schema errors, CEL errors, CEL costs) of a node and everything under it."""
    errors: list[FieldError] = []
    cel_errors: list[FieldError] = []
    costs: list[tuple[str, float]] = []

    def merge(sub: tuple[list[FieldError], list[FieldError], list[tuple[str, float]]]) -> None:
        errors.extend(sub[0])
        cel_errors.extend(sub[1])
        costs.extend(sub[2])

    errors += _standard(s, path, ctx)
    if s.get("uniqueItems") is True:
        errors.append(
            forbidden(
                f"{path}.uniqueItems",
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    properties: Mapping[str, Any] = s.get("properties") or {}
    additional = s.get("additionalProperties")
    if additional is not None:
        if properties and (additional is False or isinstance(additional, Mapping)):
            errors.append(
                forbidden(
                    f"{path}.additionalProperties", "additionalProperties and properties are mutual exclusive"
                )
            )
        if isinstance(additional, Mapping):
            sub = ctx.replace(is_root=False, cardinality=_times(ctx.cardinality, s.get("maxProperties")))
            if ctx.inside_meta:
                sub = sub.replace(
                    allow_defaults=False,
                    no_defaults_reason="inside additionalProperties applying to object metadata",
                )
            merge(_validate_nodes(additional, f"{path}.additionalProperties", sub))
    for name, child in properties.items():
        sub = ctx.replace(is_root=False)
        if s.get("x-kubernetes-map-type") == "atomic" and sub.uncorrelatable is None:
            sub = sub.replace(uncorrelatable=path)
        if (ctx.is_root or s.get("x-kubernetes-embedded-resource")) and name in _META_FIELDS:
            sub = sub.replace(inside_meta=True)
            if ctx.is_root:
                sub = sub.replace(allow_defaults=False, no_defaults_reason=f"in top-level {name}")
        merge(_validate_nodes(child, _key(f"{path}.properties", name), sub))
    if isinstance(s.get("items"), Mapping):
        sub = ctx.replace(is_root=False, cardinality=_times(ctx.cardinality, s.get("maxItems")))
        if s.get("x-kubernetes-list-type") != "map" and sub.uncorrelatable is None:
            sub = sub.replace(uncorrelatable=path)
        merge(_validate_nodes(s["items"], f"{path}.items", sub))
    errors += _extensions(s, path)
    rule_errors, rule_cel_errors, rule_costs = _validate_rules(s, path, ctx)
    errors += rule_errors
    if not errors:
        cel_errors += rule_cel_errors
        costs += rule_costs
    return errors, cel_errors, costs


def _standard(s: Mapping[str, Any], path: str, ctx: _Ctx) -> list[FieldError]:
    """specStandardValidatorV3.validate."""
    errors: list[FieldError] = []
    kind = s.get("type")
    if kind and kind not in OPENAPI_V3_TYPES:
        if kind == "null":
            errors.append(
                forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative")
            )
        else:
            errors.append(not_supported(f"{path}.type", kind, OPENAPI_V3_TYPES))
    if "default" in s and not ctx.allow_defaults:
        detail = "must not be set" + (f" {ctx.no_defaults_reason}" if ctx.no_defaults_reason else "")
        errors.append(forbidden(f"{path}.default", detail))
    for key, detail in (
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ):
        if s.get(key) not in (None, "", {}):
            errors.append(forbidden(f"{path}.{key}", detail))
    if isinstance(s.get("items"), list):
        errors.append(forbidden(f"{path}.items", "items must be a schema object and not an array"))
    if ctx.inside_meta and s.get("x-kubernetes-embedded-resource"):
        errors.append(
            forbidden(f"{path}.x-kubernetes-embedded-resource", "must not be used inside of resource meta")
        )
    return errors


def _extensions(s: Mapping[str, Any], path: str) -> list[FieldError]:  # noqa: C901, PLR0912, PLR0915 - mirrors the Go function, rule by rule
    """x-kubernetes-preserve-unknown-fields / map-type / list-type / list-map-keys rules."""
    errors: list[FieldError] = []
    kind = s.get("type") or ""
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errors.append(
            invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined")
        )
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None and kind != "object":
        detail = "must be object if x-kubernetes-map-type is specified"
        errors.append(required(f"{path}.type", detail) if not kind else invalid(f"{path}.type", kind, detail))
    if map_type is not None and map_type not in ("atomic", "granular"):
        errors.append(not_supported(f"{path}.x-kubernetes-map-type", map_type, ["atomic", "granular"]))
    list_type = s.get("x-kubernetes-list-type")
    items = s.get("items") if isinstance(s.get("items"), Mapping) else None
    if list_type is not None and kind != "array":
        detail = "must be array if x-kubernetes-list-type is specified"
        errors.append(required(f"{path}.type", detail) if not kind else invalid(f"{path}.type", kind, detail))
    elif list_type == "set" and items is not None:
        if items.get("type") == "array" and items.get("x-kubernetes-list-type", "atomic") != "atomic":
            errors.append(
                invalid(
                    f"{path}.items.x-kubernetes-list-type",
                    items.get("x-kubernetes-list-type"),
                    "must be atomic as item of a list with x-kubernetes-list-type=set",
                )
            )
        if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
            errors.append(
                invalid(
                    f"{path}.items.x-kubernetes-map-type",
                    list_type,
                    "must be atomic as item of a list with x-kubernetes-list-type=set",
                )
            )
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        errors.append(not_supported(f"{path}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"]))
    keys: list[str] = list(s.get("x-kubernetes-list-map-keys") or [])
    if keys:
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            errors.append(required(f"{path}.x-kubernetes-list-type", detail))
        elif list_type != "map":
            errors.append(invalid(f"{path}.x-kubernetes-list-type", list_type, detail))
    if list_type == "map":
        if not keys:
            errors.append(
                required(
                    f"{path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"
                )
            )
        if s.get("items") is None:
            errors.append(required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map"))
        elif items is not None and items.get("type") != "object":
            errors.append(
                invalid(
                    f"{path}.items.type",
                    items.get("type", ""),
                    "must be object if parent array's x-kubernetes-list-type is map",
                )
            )
        elif items is not None:
            seen: set[str] = set()
            item_props: Mapping[str, Any] = items.get("properties") or {}
            for key in keys:
                if key not in item_props:
                    errors.append(
                        invalid(
                            f"{path}.x-kubernetes-list-map-keys",
                            keys,
                            "entries must all be names of item properties",
                        )
                    )
                elif item_props[key].get("type") in ("array", "object"):
                    errors.append(
                        invalid(
                            _key(f"{path}.items.properties", key) + ".type",
                            items.get("type"),
                            "must be a scalar type if parent array's x-kubernetes-list-type is map",
                        )
                    )
                if key in seen:
                    errors.append(
                        invalid(
                            f"{path}.x-kubernetes-list-map-keys", keys, "must not contain duplicate entries"
                        )
                    )
                seen.add(key)
    # validateMapListKeysMapSet
    if items is not None and list_type in ("set", "map"):
        if items.get("nullable"):
            errors.append(
                forbidden(
                    f"{path}.items.nullable", f"cannot be nullable when x-kubernetes-list-type is {list_type}"
                )
            )
        if list_type == "map":
            item_required = set(items.get("required") or [])
            for key in keys:
                prop = (items.get("properties") or {}).get(key)
                if prop is None:
                    continue
                if key not in item_required and "default" not in prop:
                    errors.append(
                        required(
                            _key(f"{path}.items.properties", key) + ".default",
                            "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                        )
                    )
                if prop.get("nullable"):
                    errors.append(
                        forbidden(
                            _key(f"{path}.items.properties", key) + ".nullable",
                            "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                        )
                    )
    return errors


# ----- defaults (pkg/apiserver/schema/defaulting/validation.go) --------------------------------


def validate_defaults(schema: Mapping[str, Any], path: str) -> list[FieldError]:
    """Every ``default`` must be pruned-stable and valid for its own node's schema."""
    errors: list[FieldError] = []

    def walk(node: Mapping[str, Any], at: str, inside_meta: bool) -> None:
        if "default" in node and not inside_meta:
            value = node["default"]
            pruned = copy.deepcopy(value)
            pruned = _prune(pruned, node, bool(node.get("x-kubernetes-embedded-resource")), [], "")
            if pruned != value:
                errors.append(invalid(f"{at}.default", value, "must not have unknown fields"))
            else:
                errors.extend(validate_value(value, node, f"{at}.default"))
        for name, child in (node.get("properties") or {}).items():
            walk(child, _key(f"{at}.properties", name), inside_meta or (at == path and name in _META_FIELDS))
        if isinstance(node.get("items"), Mapping):
            walk(node["items"], f"{at}.items", inside_meta)
        # "do not follow additionalProperties because defaults are forbidden there" (under meta)
        if isinstance(node.get("additionalProperties"), Mapping):
            walk(node["additionalProperties"], f"{at}.additionalProperties", inside_meta)

    walk(schema, path, False)
    return errors


def validate_value(value: Any, s: Mapping[str, Any], path: str) -> list[FieldError]:  # noqa: C901, PLR0912 - mirrors the Go function, rule by rule
    """OpenAPI value validation of ``value`` against ``s`` (kube-openapi's validator, with the
    apiextensions field-error wording: Unsupported value, Required value, Too long/many...)."""
    errors: list[FieldError] = []
    if value is None:
        if not s.get("nullable"):
            errors.append(
                invalid(path, None, f'{path} in body must be of type {s.get("type", "object")}: "null"')
            )
        return errors
    kind = s.get("type")
    actual = _json_type(value)
    if s.get("x-kubernetes-int-or-string"):
        if actual not in ("integer", "string"):
            errors.append(invalid(path, value, "must be of type int-or-string"))
        return errors
    if kind and not (actual == kind or (kind == "number" and actual == "integer")):
        errors.append(invalid(path, value, f"{path} in body must be of type {kind}: {json.dumps(actual)}"))
        return errors
    if "enum" in s and value not in s["enum"]:
        errors.append(
            not_supported(path, value, [v if isinstance(v, str) else json.dumps(v) for v in s["enum"]])
        )
    if isinstance(value, str):
        if "maxLength" in s and len(value) > s["maxLength"]:
            errors.append(
                FieldError(path, "Too long", f"may not be more than {s['maxLength']} bytes", value, True)
            )
        if "minLength" in s and len(value) < s["minLength"]:
            errors.append(
                invalid(path, value, f"{path} in body should be at least {s['minLength']} chars long")
            )
        if "pattern" in s and not _re_search(s["pattern"], value):
            errors.append(invalid(path, value, f"{path} in body should match '{s['pattern']}'"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "maximum" in s and (value >= s["maximum"] if s.get("exclusiveMaximum") else value > s["maximum"]):
            op = "less than" if s.get("exclusiveMaximum") else "less than or equal to"
            errors.append(invalid(path, value, f"{path} in body should be {op} {s['maximum']}"))
        if "minimum" in s and (value <= s["minimum"] if s.get("exclusiveMinimum") else value < s["minimum"]):
            op = "greater than" if s.get("exclusiveMinimum") else "greater than or equal to"
            errors.append(invalid(path, value, f"{path} in body should be {op} {s['minimum']}"))
    if isinstance(value, list):
        if "maxItems" in s and len(value) > s["maxItems"]:
            errors.append(
                FieldError(path, "Too many", f"must have at most {s['maxItems']} items", len(value), True)
            )
        if "minItems" in s and len(value) < s["minItems"]:
            errors.append(invalid(path, value, f"{path} in body should have at least {s['minItems']} items"))
        if isinstance(s.get("items"), Mapping):
            for i, item in enumerate(value):
                errors += validate_value(item, s["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        for name in s.get("required") or []:
            if name not in value:
                errors.append(required(f"{path}.{name}"))
        properties: Mapping[str, Any] = s.get("properties") or {}
        additional = s.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                errors += validate_value(item, properties[name], f"{path}.{name}")
            elif isinstance(additional, Mapping):
                errors += validate_value(item, additional, f"{path}.{name}")
        if "maxProperties" in s and len(value) > s["maxProperties"]:
            errors.append(
                FieldError(
                    path, "Too many", f"must have at most {s['maxProperties']} items", len(value), True
                )
            )
    return errors


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _re_search(pattern: str, value: str) -> bool:
    return bool((re2 or re).search(pattern, value))


def format_warnings(schema: Mapping[str, Any], path: str) -> list[str]:
    """GetUnrecognizedFormats: the server only *warns* about a string format it does not know."""
    warnings: list[str] = []
    for at, node in schema_nodes(schema, path):
        fmt = node.get("format")
        if node.get("type") == "string" and fmt and re.sub(r"[-_]", "", fmt).lower() not in KNOWN_FORMATS:
            warnings.append(f"{at}.format: {json.dumps(fmt)}: unrecognized format")
    return warnings


def schema_nodes(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every node of a schema with its path in the server's spelling."""
    yield path, schema
    for name, child in (schema.get("properties") or {}).items():
        yield from schema_nodes(child, _key(f"{path}.properties", name))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            yield from schema_nodes(schema[key], f"{path}.{key}")


# ----- CEL (x-kubernetes-validations) --------------------------------------------------------------


def _max_entries(s: Mapping[str, Any]) -> float:
    """How many items (or map entries) a list/map node may hold: its bound, or the server's
    estimate for an unbounded one (``(maxRequestSizeBytes - 2) / (minSize + 1)``)."""
    bound = s.get("maxItems") if s.get("type") == "array" else s.get("maxProperties")
    if bound is not None:
        return float(bound)
    child = s.get("items") if s.get("type") == "array" else s.get("additionalProperties")
    min_size = _min_serialized_size(child if isinstance(child, Mapping) else {})
    if s.get("type") == "object":
        min_size += 4  # a map entry also carries its key: `"":` plus a comma
    return float((MAX_REQUEST_SIZE_BYTES - 2) // (min_size + 1))


def _min_serialized_size(s: Mapping[str, Any]) -> int:
    """apiserver/pkg/cel/common/schemas.go SchemaDeclType's MinSerializedSize: `""`, `0`,
    `true`, `[]`, `{}`; an object adds its required properties that have no default
    (`"name":` + their own minimum + a comma)."""
    size = {"string": 2, "integer": 1, "number": 1, "boolean": 4, "array": 2, "object": 2}.get(
        s.get("type", ""), 1
    )
    properties: Mapping[str, Any] = s.get("properties") or {}
    for name in s.get("required") or []:
        prop = properties.get(name)
        if prop is not None and "default" not in prop:
            size += len(name) + _min_serialized_size(prop) + 4
    return size


def _times(cardinality: float | None, bound: Any) -> float | None:
    return None if cardinality is None or bound is None else cardinality * float(bound)


def _cardinality(bounded: float | None, s: Mapping[str, Any]) -> float:
    """getExpressionCost's multiplier: the bounded product, else compilation.go maxCardinality
    (``maxRequestSizeBytes / (minSerializedSize + 1)``) of the rule's own node."""
    if bounded is not None:
        return bounded
    return float(MAX_REQUEST_SIZE_BYTES // (_min_serialized_size(s) + 1))


def _max_length(s: Mapping[str, Any] | None) -> float:
    """A string's largest size (maxLength, or what fits in one request)."""
    if s is None:
        return float(MAX_REQUEST_SIZE_BYTES)
    if "maxLength" in s:
        return float(s["maxLength"])
    if s.get("enum"):
        return float(max(len(str(v)) for v in s["enum"]))
    return float(MAX_REQUEST_SIZE_BYTES - 2)


_ENV = celpy.Environment()
_MACROS = {"all", "exists", "exists_one", "map", "filter"}
_STRING_SCAN_FUNCTIONS = {
    "contains",
    "startsWith",
    "endsWith",
    "lowerAscii",
    "upperAscii",
    "trim",
    "split",
    "indexOf",
}


class _CelError(Exception):
    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


@dataclasses.dataclass
class _Estimate:
    cost: float
    node: Mapping[str, Any] | None  # the schema of the value, when it comes from the object
    size: float = 1.0  # max size of a string/list value (for traversal costs)


@dataclasses.dataclass
class _RuleInfo:
    uses_old_self: bool = False
    walked: list[tuple[str, Mapping[str, Any]]] = dataclasses.field(
        default_factory=list
    )  # fields a rule scans


def _validate_rules(  # noqa: C901, PLR0912 - mirrors the Go function, rule by rule
    s: Mapping[str, Any], path: str, ctx: _Ctx
) -> tuple[list[FieldError], list[FieldError], list[tuple[str, float]]]:
    """The x-kubernetes-validations of one node: their fields, then (if the schema is sound)
    compilation, oldSelf placement and the per-rule static cost limit."""
    errors: list[FieldError] = []
    cel_errors: list[FieldError] = []
    costs: list[tuple[str, float]] = []
    for i, rule in enumerate(s.get("x-kubernetes-validations") or []):
        at = f"{path}.x-kubernetes-validations[{i}]"
        text = str(rule.get("rule") or "").strip()
        message = rule.get("message")
        if not text:
            errors.append(required(f"{at}.rule", "rule is not specified"))
        elif message is not None and len(message) > 0 and not message.strip():
            errors.append(invalid(f"{at}.message", message, "must be non-empty if specified"))
        elif message and re.search(r"[\n\r]", message.strip()):
            errors.append(invalid(f"{at}.message", message, "must not contain line breaks"))
        elif re.search(r"[\n\r]", text) and not (message or "").strip():
            errors.append(required(f"{at}.message", "message must be specified if rule contains line breaks"))
        if rule.get("messageExpression") is not None and not str(rule["messageExpression"]).strip():
            errors.append(
                required(f"{at}.messageExpression", "messageExpression must be non-empty if specified")
            )
        reason = rule.get("reason")
        if reason is not None and reason not in SUPPORTED_VALIDATION_REASONS:
            errors.append(not_supported(f"{at}.reason", reason, SUPPORTED_VALIDATION_REASONS))
        field_path = rule.get("fieldPath")
        if field_path is not None:
            if len(field_path) > 0 and not field_path.strip():
                errors.append(invalid(f"{at}.fieldPath", field_path, "must be non-empty if specified"))
            if re.search(r"[\n\r]", field_path):
                errors.append(invalid(f"{at}.fieldPath", field_path, "must not contain line breaks"))
            if field_path and resolve_field_path(s, field_path) is None:
                errors.append(invalid(f"{at}.fieldPath", field_path, "must be a valid path"))
        if not text:
            continue
        try:
            estimate, info = compile_rule(text, s)
        except _CelError as e:
            column = f":{e.column}" if e.column else ""
            cel_errors.append(
                invalid(f"{at}.rule", dict(rule), f"compilation failed: ERROR: <input>:1{column}: {e}")
            )
            continue
        cost = estimate.cost * _cardinality(ctx.cardinality, s)
        if cost > STATIC_ESTIMATED_COST_LIMIT:
            cel_errors.append(
                forbidden(
                    f"{at}.rule", _cost_message("estimated rule cost", cost, STATIC_ESTIMATED_COST_LIMIT)
                )
            )
        costs.append((f"{at}.rule", cost))
        if info.uses_old_self:
            if ctx.uncorrelatable is not None:
                cel_errors.append(
                    invalid(
                        f"{at}.rule",
                        text,
                        f"oldSelf cannot be used on the uncorrelatable portion of the schema within {ctx.uncorrelatable}",
                    )
                )
        elif rule.get("optionalOldSelf") is not None:
            cel_errors.append(
                invalid(
                    f"{at}.optionalOldSelf",
                    rule["optionalOldSelf"],
                    "may not be set if oldSelf is not used in rule",
                )
            )
    return errors, cel_errors, costs


def resolve_field_path(s: Mapping[str, Any], field_path: str) -> Mapping[str, Any] | None:
    """cel.ValidFieldPath: `.a.b`, `['a.b']`, `[0]` (lists), relative to the rule's node."""
    node: Mapping[str, Any] | None = s
    for dotted, quoted, index in re.findall(
        r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']*)'\]|\[(\d+)\]", field_path
    ):
        if node is None:
            return None
        if index:
            node = node.get("items") if node.get("type") == "array" else None
            continue
        name = dotted or quoted
        props = node.get("properties") or {}
        if name in props:
            node = props[name]
        elif isinstance(node.get("additionalProperties"), Mapping):
            node = node["additionalProperties"]
        else:
            return None
    rebuilt = "".join(
        f".{d}" if d else (f"['{q}']" if q or not i else f"[{i}]")
        for d, q, i in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']*)'\]|\[(\d+)\]", field_path)
    )
    return node if rebuilt == field_path and field_path else None


def compile_rule(text: str, s: Mapping[str, Any]) -> tuple[_Estimate, _RuleInfo]:
    """Parse a rule (cel-python), check every field it selects from ``self`` / ``oldSelf`` /
    a macro's variable against the schema, and estimate its cost as cel-go would (unbounded
    strings and lists at the size one request may hold)."""
    try:
        tree = _ENV.compile(text)
    except CELParseError as e:
        column = getattr(e, "column", None)
        detail = str(e.args[0]).splitlines()[0] if e.args else "invalid expression"
        raise _CelError(f"Syntax error: {detail}", column) from None
    info = _RuleInfo()
    estimate = _Estimator(info).estimate(tree, {"self": s, "oldSelf": s})
    return estimate, info


class _Estimator:
    """A walk of cel-python's parse tree computing (cost, schema node, size) bottom-up."""

    def __init__(self, info: _RuleInfo) -> None:
        self.info = info

    def estimate(self, tree: Any, scope: Mapping[str, Mapping[str, Any] | None]) -> _Estimate:
        if isinstance(tree, lark.Token):
            return _Estimate(_CONST_COST, None)
        method = getattr(self, f"_{tree.data}", None)
        if method is not None:
            result: _Estimate = method(tree, scope)
            return result
        parts = [self.estimate(child, scope) for child in tree.children]
        if len(parts) == 1:
            return parts[0]
        # && and || cost their operands only (cel-go: both may be evaluated); any other
        # operator (relation_*, addition_*, multiplication_*, unary_*) is one call plus its
        # operands, plus a traversal when it compares or joins strings or lists.
        cost = (0 if tree.data in ("conditionalor", "conditionaland") else 1) + sum(p.cost for p in parts)
        sized = [p.size for p in parts if p.node is not None and p.node.get("type") in ("string", "array")]
        if sized and tree.data.startswith(("relation", "addition")):
            cost += math.ceil(_STRING_TRAVERSAL_COST_FACTOR * min(sized))
        return _Estimate(cost, None)

    # operators whose children carry the operator token as a sub-tree: the default handles them

    def _literal(self, tree: Any, scope: Mapping[str, Any]) -> _Estimate:
        text = str(tree.children[0])
        if text[:1] in ("'", '"') or text[:2].lower() in ("r'", 'r"'):
            size = float(max(len(text) - 2, 0))
            return _Estimate(_CONST_COST, {"type": "string", "maxLength": size}, size)
        return _Estimate(_CONST_COST, None)

    def _ident(self, tree: Any, scope: Mapping[str, Mapping[str, Any] | None]) -> _Estimate:
        name = str(tree.children[0])
        if name == "oldSelf":
            self.info.uses_old_self = True
        if name in scope:
            node = scope[name]
            return _Estimate(_SELECT_AND_IDENT_COST, node, self._size(node))
        return _Estimate(_SELECT_AND_IDENT_COST, None)

    def _size(self, node: Mapping[str, Any] | None) -> float:
        if node is None:
            return 1.0
        if node.get("type") == "string":
            return _max_length(node)
        if node.get("type") in ("array", "object") and (
            node.get("items") or node.get("additionalProperties")
        ):
            return _max_entries(node)
        return 1.0

    def _select(self, base: _Estimate, name: str, column: int | None) -> _Estimate:
        node = base.node
        if node is None:
            return _Estimate(base.cost + _SELECT_AND_IDENT_COST, None)
        props = node.get("properties") or {}
        if name in props:
            child = props[name]
        elif isinstance(node.get("additionalProperties"), Mapping):
            child = node["additionalProperties"]
        elif node.get("x-kubernetes-preserve-unknown-fields"):
            return _Estimate(base.cost + _SELECT_AND_IDENT_COST, None)
        else:
            raise _CelError(f"undefined field '{name}'", column)
        return _Estimate(base.cost + _SELECT_AND_IDENT_COST, child, self._size(child))

    def _member_dot(self, tree: Any, scope: Mapping[str, Any]) -> _Estimate:
        base = self.estimate(tree.children[0], scope)
        token = tree.children[1]
        return self._select(base, str(token), getattr(token, "column", None))

    def _member_index(self, tree: Any, scope: Mapping[str, Any]) -> _Estimate:
        base = self.estimate(tree.children[0], scope)
        index = self.estimate(tree.children[1], scope)
        node = base.node
        child = None
        if node is not None:
            child = node.get("items") if node.get("type") == "array" else node.get("additionalProperties")
        return _Estimate(base.cost + index.cost + 1, child, self._size(child))

    def _member_dot_arg(self, tree: Any, scope: Mapping[str, Mapping[str, Any] | None]) -> _Estimate:
        receiver = self.estimate(tree.children[0], scope)
        method = str(tree.children[1])
        args = tree.children[2].children if len(tree.children) > 2 and tree.children[2] is not None else []
        if method in _MACROS and args:
            var = self._ident_name(args[0])
            element = None
            if receiver.node is not None:
                element = (
                    receiver.node.get("items")
                    if receiver.node.get("type") == "array"
                    else {"type": "string"}  # a map iterates its keys
                )
                self.info.walked.append((method, receiver.node))
            inner = dict(scope)
            if var:
                inner[var] = element
            body = [self.estimate(arg, inner) for arg in args[1:]]
            per_item = sum(b.cost for b in body) + 1  # loop step
            return _Estimate(receiver.cost + receiver.size * per_item + 1, None)
        params = [self.estimate(arg, scope) for arg in args]
        cost = receiver.cost + 1 + sum(p.cost for p in params)
        if method in _STRING_SCAN_FUNCTIONS or method == "matches":
            if receiver.node is not None:
                self.info.walked.append((method, receiver.node))
            factor = _STRING_TRAVERSAL_COST_FACTOR * receiver.size
            if method == "matches":
                pattern = params[0].size if params else 1.0
                factor = (
                    receiver.size * _REGEX_STRING_LENGTH_COST_FACTOR * pattern * _STRING_TRAVERSAL_COST_FACTOR
                )
            cost += math.ceil(factor)
        return _Estimate(cost, None)

    def _ident_arg(self, tree: Any, scope: Mapping[str, Any]) -> _Estimate:
        name = str(tree.children[0])
        args = tree.children[1].children if len(tree.children) > 1 and tree.children[1] is not None else []
        params = [self.estimate(arg, scope) for arg in args]
        # has(x.f) is a presence test: cel-go's presenceTestCost (1) replaces the select's cost.
        cost = (0 if name == "has" else 1) + sum(p.cost for p in params)
        if name in ("matches",) and len(params) == 2:
            cost += math.ceil(params[0].size * _REGEX_STRING_LENGTH_COST_FACTOR * params[1].size * 0.1)
        return _Estimate(cost, None)

    def _list_lit(self, tree: Any, scope: Mapping[str, Any]) -> _Estimate:
        parts = [self.estimate(child, scope) for child in tree.children]
        return _Estimate(_LIST_CREATE_BASE_COST + sum(p.cost for p in parts), None)

    def _map_lit(self, tree: Any, scope: Mapping[str, Any]) -> _Estimate:
        parts = [self.estimate(child, scope) for child in tree.children]
        return _Estimate(_MAP_CREATE_BASE_COST + sum(p.cost for p in parts), None)

    def _expr(self, tree: Any, scope: Mapping[str, Any]) -> _Estimate:
        parts = [self.estimate(child, scope) for child in tree.children]
        if len(parts) == 3:  # cond ? a : b
            return _Estimate(parts[0].cost + max(parts[1].cost, parts[2].cost), None)
        return parts[0]

    @staticmethod
    def _ident_name(tree: Any) -> str | None:
        tokens = (
            list(tree.scan_values(lambda v: isinstance(v, lark.Token)))
            if isinstance(tree, lark.Tree)
            else [tree]
        )
        return str(tokens[0]) if len(tokens) == 1 else None


def rule_bound_errors(crd: Mapping[str, Any]) -> list[str]:  # noqa: C901 - one walk, one check per rule kind
    """This project's own rule, stricter than the server's: every string or list that a CEL
    rule scans (comparisons, string functions, macros) is bounded by maxLength / maxItems, and
    every list or map above a node with rules is bounded too, so a rule's cost never depends
    on the size of the request."""
    problems: list[str] = []
    for index, version in enumerate((crd.get("spec") or {}).get("versions") or []):
        schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}

        def walk(node: Mapping[str, Any], at: str, unbounded_above: str | None) -> None:
            rules = node.get("x-kubernetes-validations") or []
            for i, rule in enumerate(rules):
                where = f"{at}.x-kubernetes-validations[{i}]"
                if unbounded_above:
                    problems.append(
                        f"{where}: runs once per item of {unbounded_above}, which has no maxItems/maxProperties"
                    )
                try:
                    _, info = compile_rule(str(rule.get("rule", "")), node)
                except _CelError:
                    continue  # validate_crd reports it
                for _method, scanned in info.walked:
                    if (
                        scanned.get("type") == "string"
                        and "maxLength" not in scanned
                        and "enum" not in scanned
                    ):
                        problems.append(f"{where}: scans a string without maxLength")
                    if scanned.get("type") == "array" and "maxItems" not in scanned:
                        problems.append(f"{where}: walks a list without maxItems")
                for name in re.findall(r"\bself\.(\w+)", str(rule.get("rule", ""))):
                    child = (node.get("properties") or {}).get(name) or {}
                    if (
                        child.get("type") == "string"
                        and "maxLength" not in child
                        and "enum" not in child
                        and re.search(rf"self\.{name}\s*(==|!=|<|>|\+|\.)", str(rule["rule"]))
                    ):
                        problems.append(f"{where}: compares self.{name}, a string without maxLength")
            for name, child in (node.get("properties") or {}).items():
                walk(child, _key(f"{at}.properties", name), unbounded_above)
            for key in ("items", "additionalProperties"):
                child = node.get(key)
                if isinstance(child, Mapping):
                    bounded = ("maxItems" if key == "items" else "maxProperties") in node
                    walk(child, f"{at}.{key}", unbounded_above or (None if bounded else at))

        walk(schema, f"spec.versions[{index}].schema.openAPIV3Schema", None)
    return list(dict.fromkeys(problems))


# ----- what the server does to a custom resource on write ---------------------------------------


def prune(obj: JSON, schema: Mapping[str, Any]) -> list[str]:
    """Drop every field the structural schema does not specify (in place); return their paths.

    pruning/algorithm.go: at the resource root (and in x-kubernetes-embedded-resource
    objects) apiVersion, kind and metadata are kept, metadata then goes through ObjectMeta
    (which keeps only ObjectMeta's fields); x-kubernetes-preserve-unknown-fields keeps unknown
    fields at that node but known properties below it are still pruned; additionalProperties
    with a schema prunes each value by it.
    """
    dropped: list[str] = []
    _prune(obj, schema, True, dropped, "")
    return dropped


def _prune(value: Any, s: Mapping[str, Any] | None, resource_root: bool, dropped: list[str], at: str) -> Any:  # noqa: C901, PLR0912 - mirrors the Go function, rule by rule
    if s is None:
        return value
    if isinstance(value, dict):
        properties: Mapping[str, Any] = s.get("properties") or {}
        additional = s.get("additionalProperties")
        preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
        for name in list(value):
            here = f"{at}.{name}" if at else name
            if resource_root and name in ("apiVersion", "kind"):
                continue
            if resource_root and name == "metadata":
                if isinstance(value[name], dict):
                    for field in list(value[name]):
                        if field not in OBJECT_META_FIELDS:
                            del value[name][field]
                            dropped.append(f"{here}.{field}")
                continue
            if name in properties:
                child = properties[name]
                value[name] = _prune(
                    value[name], child, bool(child.get("x-kubernetes-embedded-resource")), dropped, here
                )
            elif isinstance(additional, Mapping):
                embedded = bool(additional.get("x-kubernetes-embedded-resource"))
                value[name] = _prune(value[name], additional, embedded, dropped, here)
            elif additional is True or preserve:
                continue
            else:
                del value[name]
                dropped.append(here)
    elif isinstance(value, list) and isinstance(s.get("items"), Mapping):
        items = s["items"]
        embedded = bool(items.get("x-kubernetes-embedded-resource"))
        for i, item in enumerate(value):
            value[i] = _prune(item, items, embedded, dropped, f"{at}[{i}]")
    return value


def apply_defaults(obj: Any, schema: Mapping[str, Any]) -> Any:
    """The server's structural defaulting (defaulting/algorithm.go), in place: a missing field
    whose schema has a default gets a copy of it (then defaulted further); a null in a field
    that is not nullable is dropped, or replaced by the default where there is one."""
    if isinstance(obj, dict):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        for name, child in properties.items():
            if name in obj and obj[name] is None and not child.get("nullable"):
                del obj[name]
            if name not in obj and "default" in child:
                obj[name] = copy.deepcopy(child["default"])
            if name in obj:
                apply_defaults(obj[name], child)
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            for name in [n for n in obj if n not in properties]:
                apply_defaults(obj[name], additional)
    elif isinstance(obj, list) and isinstance(schema.get("items"), Mapping):
        for item in obj:
            apply_defaults(item, schema["items"])
    return obj


def structural_schema_of(crd: Mapping[str, Any], version: str) -> Mapping[str, Any] | None:
    """The openAPIV3Schema of one version, or None where it prunes nothing (root preserves)."""
    for served in (crd.get("spec") or {}).get("versions") or []:
        if served.get("name") == version:
            schema = (served.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                return None
            if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
                return None
            result: Mapping[str, Any] = schema
            return result
    return None
