"""Load the price catalogue: the shipped CSV, users' override files, and Price List refreshes."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import yaml

from mlcost.domain.catalogue import InstanceSpec, Price, PriceCatalogue, Usage, parse_instance_type
from mlcost.domain.errors import MlcostError

__all__ = [
    "COLUMNS",
    "DEFAULT_DATA",
    "SOURCE_DESCRIPTIONS",
    "CatalogueFileError",
    "PriceListSource",
    "RefreshOutcome",
    "load_catalogue",
    "load_catalogue_file",
    "load_default_catalogue",
    "parse_catalogue",
    "refresh_catalogue",
    "refresh_or_keep",
]

# The columns of mlcost/data/sagemaker_instances.csv; override files use the same names.
COLUMNS = (
    "instance_type",
    "vcpu",
    "memory_gib",
    "gpu_count",
    "gpu_model",
    "gpu_memory_gib",
    "accelerator",
    "region",
    "usage",
    "price_per_hour_usd",
    "source",
    "as_of",
)
SPEC_COLUMNS = ("vcpu", "memory_gib", "gpu_count", "gpu_model", "gpu_memory_gib", "accelerator")
PRICE_COLUMNS = ("region", "usage", "price_per_hour_usd", "as_of")

DEFAULT_DATA = "data/sagemaker_instances.csv"  # inside the mlcost package

# What the shipped data's source keys stand for (mlcost/data/README.md has the details).
SOURCE_DESCRIPTIONS = {
    "FMB": "aws-samples/foundation-model-benchmarking-tool fmbench/configs/pricing.yml, "
    "hand-maintained endpoint prices; region us-east-1 inferred",
    "RN": "AWS bulk price file AmazonSageMaker published 2026-09-24, as tabled in public research notes",
    "JHU": "JHUAPL-DTC-TA2/wiki docs/sagemaker_instances.md, Studio JupyterLab/Code Editor; "
    "region not stated",
    "GOE": "goerlitz/nlp-classification notebooks/10kGNAD/sagemaker/README.md (2021); "
    "usage and region not stated",
    # Single AWS Price List API quotes (usage type, date read) found in public files.
    "PLQ1": "AWS Price List quote USE1-Host:ml.m5.2xlarge / ml.m5.xlarge, read 2026-09-28",
    "PLQ2": "AWS Price List quote USE1-Host:ml.m5.xlarge (SKU JDZQJFUVUR8SUWHS), read 2026-06-27",
    "PLQ3": "AWS Price List quote USE1-Train:ml.m5.large (SKU JMCWJEAPVJNFJ5P4), read 2026-08-11",
    "PLQ4": "AWS Price List quote USE1-Train:ml.g5.2xlarge (aws pricing get-products), read 2026-08-20",
    "PLQ5": "AWS Price List quotes USE1-Host/Processing:ml.m5.large and Processing ml.m5.xlarge, "
    "ml.t3.medium, read 2026-07-30",
    "PLQ6": "AWS Price List quote USE1-Processing:ml.m5.xlarge, read 2026-09-13",
}


def describe_source(source: str) -> str:
    """What a source key stands for; "FMB+PLQ1" (sources that agree) describes each."""
    parts = [SOURCE_DESCRIPTIONS.get(key.strip(), "") for key in source.split("+")]
    return "; ".join(part for part in parts if part)


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_MAX_PROBLEMS_SHOWN = 20


class CatalogueFileError(MlcostError):
    """A price catalogue file has rows the operator cannot use; `problems` names each one."""

    reason = "InvalidPriceCatalogue"

    def __init__(self, name: str, problems: list[str]) -> None:
        shown = problems[:_MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        message = (
            f"price catalogue {name}: {len(problems)} problem(s); fix these rows or remove them:\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else "")
        )
        super().__init__(message)
        self.name = name
        self.problems = problems


# ---------------------------------------------------------------------------- loading


@functools.cache
def load_default_catalogue() -> PriceCatalogue:
    """The catalogue shipped in the package (partial, partly old: see mlcost/data/README.md)."""
    text = resources.files("mlcost").joinpath(DEFAULT_DATA).read_text(encoding="utf-8")
    return parse_catalogue(text, fmt="csv", name=f"mlcost/{DEFAULT_DATA}")


def load_catalogue_file(path: Path) -> PriceCatalogue:
    """A user's catalogue: a .csv with the shipped columns, or a .yaml/.yml/.json list of rows.

    A directory (a mounted ConfigMap) loads each such file in it by name; later files win.
    """
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and _format_of(p)
        )
        if not files:
            raise CatalogueFileError(str(path), ["no .csv, .yaml, .yml or .json file in this directory"])
        catalogue = PriceCatalogue()
        for file in files:
            catalogue = catalogue.merged(load_catalogue_file(file))
        return catalogue
    try:
        # utf-8-sig: spreadsheets save CSV with a byte-order mark that would hide the header.
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueFileError(str(path), [f"cannot read the file: {exc}"]) from exc
    return parse_catalogue(text, fmt=_format_of(path) or _sniff(text), name=str(path))


def load_catalogue(override_path: Path | None) -> PriceCatalogue:
    """The shipped catalogue with the user's override file (if any) merged over it."""
    default = load_default_catalogue()
    return default if override_path is None else default.merged(load_catalogue_file(override_path))


def _format_of(path: Path) -> str | None:
    return {".csv": "csv", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}.get(path.suffix.lower())


def _sniff(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return "json"
    return "csv" if stripped.split("\n", 1)[0].startswith("instance_type,") else "yaml"


# ---------------------------------------------------------------------------- parsing


def parse_catalogue(text: str, *, fmt: str, name: str) -> PriceCatalogue:
    """The catalogue in `text` (fmt "csv", "yaml" or "json"); CatalogueFileError names every bad row."""
    problems: list[str] = []
    rows = list(_rows(text, fmt, problems))
    builder = _Builder(problems)
    for where, row in rows:
        builder.add(where, row)
    if problems:
        raise CatalogueFileError(name, problems)
    return PriceCatalogue(specs=builder.specs.values(), prices=builder.prices.values())


def _rows(text: str, fmt: str, problems: list[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if fmt == "csv":
        yield from _csv_rows(text, problems)
    elif fmt in ("yaml", "json"):
        yield from _document_rows(text, fmt, problems)
    else:
        raise ValueError(f"unknown catalogue format {fmt!r}: use csv, yaml or json")


def _csv_rows(text: str, problems: list[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    if "instance_type" not in header:
        problems.append(
            f"line 1: the header must name the columns (at least instance_type): {', '.join(COLUMNS)}"
        )
        return
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        problems.append(
            f"line 1: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}"
        )
        return
    reader.fieldnames = header
    for row in reader:
        if None in row:  # more cells than the header has columns
            problems.append(
                f"line {reader.line_num}: {len(row[None]) + len(header)} cells, "
                f"but the header has {len(header)}"
            )
            continue
        if not any((value or "").strip() for value in row.values()):
            continue  # blank line
        yield f"line {reader.line_num}", row


class _DecimalLoader(yaml.SafeLoader):
    """YAML without implicit floats: 0.204 stays the text "0.204" and becomes an exact Decimal."""


_DecimalLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _document_rows(text: str, fmt: str, problems: list[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    try:
        if fmt == "json":
            data = json.loads(text, parse_float=Decimal)
        else:
            data = yaml.load(text, Loader=_DecimalLoader)  # a SafeLoader: builds plain data only
    except (ValueError, yaml.YAMLError) as exc:
        problems.append(f"not valid {fmt.upper()}: {exc}")
        return
    if not isinstance(data, list):
        problems.append(f"expected a list of rows (one mapping per price), got {type(data).__name__}")
        return
    lines = _item_lines(text, len(data))
    for index, item in enumerate(data):
        where = f"item {index + 1}" + (f" (line {lines[index]})" if lines else "")
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping of {', '.join(COLUMNS)}")
            continue
        unknown = sorted(str(key) for key in item if key not in COLUMNS)
        if unknown:
            problems.append(
                f"{where}: unknown field(s) {', '.join(unknown)}; the fields are {', '.join(COLUMNS)}"
            )
            continue
        yield where, item


def _item_lines(text: str, count: int) -> list[int] | None:
    """The line each top-level list item starts on (YAML's parser also reads JSON); None if unknown."""
    try:
        node = yaml.compose(text, Loader=_DecimalLoader)
    except yaml.YAMLError:  # JSON that YAML cannot read (e.g. tab indentation)
        return None
    if not isinstance(node, yaml.SequenceNode) or len(node.value) != count:
        return None
    return [item.start_mark.line + 1 for item in node.value]


class _Builder:
    """Turns rows into specs and prices, collecting every problem with the row's position."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        self.specs: dict[str, InstanceSpec] = {}
        self.prices: dict[tuple[str, str | None, Usage], Price] = {}
        self._spec_at: dict[str, str] = {}
        self._price_at: dict[tuple[str, str | None, Usage], str] = {}

    def add(self, where: str, row: Mapping[str, Any]) -> None:
        errors: list[str] = []
        cells = _Cells(row, errors)
        instance_type = cells.text("instance_type")
        if instance_type is None:
            errors.append("instance_type is missing")
        else:
            try:
                parse_instance_type(instance_type)
            except ValueError as exc:
                errors.append(str(exc))
        price_source, spec_source = _split_source(cells.text("source"))
        spec = self._spec(cells, instance_type, spec_source, errors)
        price = self._price(cells, instance_type, price_source, errors)
        if spec is None and price is None and not errors:
            errors.append("the row has neither a price nor specs")
        if errors:
            self.problems.extend(f"{where}: {error}" for error in errors)
            return
        if spec is not None:
            self._keep_spec(where, spec)
        if price is not None:
            self._keep_price(where, price)

    def _spec(
        self, cells: _Cells, instance_type: str | None, source: str, errors: list[str]
    ) -> InstanceSpec | None:
        if instance_type is None or not any(cells.given(name) for name in SPEC_COLUMNS):
            return None
        before = len(errors)
        vcpu = cells.whole("vcpu", minimum=1)
        memory = cells.decimal("memory_gib")
        gpu_count = cells.whole("gpu_count", minimum=0) or 0
        gpu_memory = cells.decimal("gpu_memory_gib")
        if len(errors) > before:
            return None
        try:
            return InstanceSpec(
                instance_type=instance_type,
                vcpu=vcpu,
                memory_gib=memory,
                gpu_count=gpu_count,
                gpu_model=cells.text("gpu_model"),
                gpu_memory_gib=gpu_memory,
                accelerator=cells.text("accelerator"),
                source=source,
            )
        except ValueError as exc:
            errors.append(str(exc))
            return None

    def _price(
        self, cells: _Cells, instance_type: str | None, source: str, errors: list[str]
    ) -> Price | None:
        if not cells.given("price_per_hour_usd"):
            stray = [name for name in PRICE_COLUMNS if cells.given(name)]
            if stray:
                errors.append(
                    f"price_per_hour_usd is missing but {', '.join(stray)} is given; give the price, "
                    "or leave the row out when it is not known (an unknown price is never 0)"
                )
            return None
        before = len(errors)
        hourly = cells.decimal("price_per_hour_usd", what="a price in USD per hour, e.g. 0.204")
        usage = cells.usage("usage")
        region = cells.region("region")
        as_of = cells.day("as_of")
        if len(errors) > before or instance_type is None or hourly is None or usage is None or as_of is None:
            return None
        try:
            return Price(
                instance_type=instance_type,
                usage=usage,
                region=region,
                hourly_usd=hourly,
                source=source,
                as_of=as_of,
                source_detail=describe_source(source),
            )
        except (TypeError, ValueError) as exc:
            errors.append(str(exc))
            return None

    def _keep_spec(self, where: str, spec: InstanceSpec) -> None:
        known = self.specs.get(spec.instance_type)
        # Sources may differ in where the specs came from; the numbers themselves must agree.
        if known is not None and _spec_numbers(known) != _spec_numbers(spec):
            self.problems.append(
                f"{where}: the specs of {spec.instance_type} differ from those at "
                f"{self._spec_at[spec.instance_type]}; give one set of specs per instance type"
            )
            return
        if known is None:
            self.specs[spec.instance_type] = spec
            self._spec_at[spec.instance_type] = where

    def _keep_price(self, where: str, price: Price) -> None:
        key = (price.instance_type, price.region, price.usage)
        if key in self.prices:
            self.problems.append(
                f"{where}: a second {price.usage.value} price for {price.instance_type} in "
                f"{price.region or '(region not stated)'}; the first is at {self._price_at[key]}"
            )
            return
        self.prices[key] = price
        self._price_at[key] = where


def _spec_numbers(spec: InstanceSpec) -> tuple[object, ...]:
    return (spec.vcpu, spec.memory_gib, spec.gpu_count, spec.gpu_model, spec.gpu_memory_gib, spec.accelerator)


def _split_source(text: str | None) -> tuple[str, str]:
    """(price source, spec source) of "price=FMB; specs=JHU+ECI-noGPU"; plain text is the price source."""
    if not text:
        return "", ""
    parts = dict(part.strip().partition("=")[::2] for part in text.split(";") if "=" in part)
    if "price" not in parts and "specs" not in parts:
        return text.strip(), ""
    return parts.get("price", "").strip(), parts.get("specs", "").strip()


class _Cells:
    """Typed reads of one row's cells; each failure is appended to `errors` with the column's name."""

    def __init__(self, row: Mapping[str, Any], errors: list[str]) -> None:
        self.row = row
        self.errors = errors

    def given(self, name: str) -> bool:
        value = self.row.get(name)
        return value is not None and not (isinstance(value, str) and not value.strip())

    def text(self, name: str) -> str | None:
        if not self.given(name):
            return None
        return str(self.row[name]).strip()

    def whole(self, name: str, *, minimum: int) -> int | None:
        text = self.text(name)
        if text is None:
            return None
        if isinstance(self.row[name], bool) or not re.fullmatch(r"\d+", text) or int(text) < minimum:
            self.errors.append(f"{name} {text!r} is not a whole number of at least {minimum}")
            return None
        return int(text)

    def decimal(self, name: str, *, what: str = "a positive decimal number") -> Decimal | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            if isinstance(self.row[name], bool | float):
                raise InvalidOperation  # never money through binary floating point
            number = Decimal(text)
        except InvalidOperation:
            self.errors.append(f"{name} {text!r} is not {what}")
            return None
        if not number.is_finite() or number <= 0:
            self.errors.append(
                f"{name} {text!r} must be greater than 0"
                + (" (leave the row out when the price is not known)" if name == "price_per_hour_usd" else "")
            )
            return None
        return number

    def usage(self, name: str) -> Usage | None:
        text = self.text(name)
        if text is None:
            self.errors.append(f"{name} is missing; use one of: {', '.join(u.value for u in Usage)}")
            return None
        try:
            return Usage.parse(text)
        except ValueError as exc:
            self.errors.append(f"{name}: {exc}")
            return None

    def region(self, name: str) -> str | None:
        text = self.text(name)
        if text is not None and not _REGION.match(text):
            self.errors.append(
                f"{name} {text!r} is not an AWS region code like us-east-1 (leave it empty if unknown)"
            )
            return None
        return text

    def day(self, name: str) -> date | None:
        value = self.row.get(name)
        if isinstance(value, date):  # YAML reads 2025-01-26 as a date already
            return value
        text = self.text(name)
        if text is None:
            self.errors.append(f"{name} is missing; every price needs the date it was valid on (YYYY-MM-DD)")
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.errors.append(f"{name} {text!r} is not a date YYYY-MM-DD")
            return None


# ---------------------------------------------------------------------------- refreshing


class PriceListSource(Protocol):
    """Where fresh prices come from: mlcost.aws.pricing.PricingClient (kept abstract: no boto3 here)."""

    def sagemaker_catalogue(self, region: str) -> PriceCatalogue: ...


def refresh_catalogue(
    base: PriceCatalogue,
    client: PriceListSource,
    region: str,
    *,
    override: PriceCatalogue | None = None,
) -> PriceCatalogue:
    """base with the Price List API's prices for `region` in place of its own, then `override`.

    Specs from the Price List fill only types base has no spec for: the curated specs say
    more (GPU model and memory). The user's override wins over both, since it may carry
    negotiated rates. Raises the domain's errors (AccessDenied, Throttled, ...) unchanged.
    """
    refreshed = _with_fresh(base, client.sagemaker_catalogue(region))
    return refreshed.merged(override) if override is not None else refreshed


def _with_fresh(base: PriceCatalogue, fresh: PriceCatalogue) -> PriceCatalogue:
    unknown_specs = [spec for spec in fresh.specs() if base.spec(spec.instance_type) is None]
    return base.merged(PriceCatalogue(specs=unknown_specs, prices=fresh.prices()))


@dataclass(frozen=True)
class RefreshOutcome:
    """The catalogue to use after trying a refresh, and what to tell the user about it."""

    catalogue: PriceCatalogue
    refreshed: bool
    message: str
    error: MlcostError | None = None


def refresh_or_keep(
    base: PriceCatalogue,
    client: PriceListSource,
    regions: Iterable[str],
    *,
    override: PriceCatalogue | None = None,
) -> RefreshOutcome:
    """Refresh the prices of every region; when AWS fails (e.g. AccessDenied) or has no prices,
    keep base (with override) and say so. Never a half-refreshed catalogue."""
    wanted = sorted(set(regions))
    kept = base.merged(override) if override is not None else base
    keeping = f"keeping the catalogue in use (sources: {kept.describe_sources()})"
    catalogue, counts, dates = base, list[str](), set[date]()
    try:
        for region in wanted:
            fresh = client.sagemaker_catalogue(region)
            catalogue = _with_fresh(catalogue, fresh)
            counts.append(f"{len(fresh.prices())} in {region}")
            dates.update(price.as_of for price in fresh.prices())
    except MlcostError as exc:
        return RefreshOutcome(
            kept,
            refreshed=False,
            message=f"Could not refresh SageMaker prices from the AWS Price List API: {exc.message}; "
            f"{keeping}.",
            error=exc,
        )
    if not dates:
        return RefreshOutcome(
            kept,
            refreshed=False,
            message=(
                "The AWS Price List API has no SageMaker ML instance prices for "
                f"{', '.join(wanted) or 'no region'}; {keeping}."
            ),
        )
    published = ", ".join(day.isoformat() for day in sorted(dates))
    return RefreshOutcome(
        catalogue.merged(override) if override is not None else catalogue,
        refreshed=True,
        message=(
            f"Refreshed SageMaker prices from the AWS Price List API (as of {published}): "
            f"{', '.join(counts)}."
        ),
    )
