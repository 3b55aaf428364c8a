"""The dataset contract: `datasets/<name>.yaml` describes one data set, validated here, rendered for the steps.

An environment names its data set (`dataset` in config/environments.yaml); the contract says everything the
platform needs to know about it: the raw columns in file order with their type (numeric, integer, categorical,
boolean, timestamp), the range of each number and the categories of each categorical, the label and its positive
value, the Feature Store record identifier and event time, the sensitive facets of the bias checks and the
token the files write for a missing value. Nothing else in the tree names a column.

The steps run in containers that may lack pydantic and PyYAML, so the validated contract is rendered to
`pipeline_code/datasets/<name>.json` (`render`, standard-library `pipeline_code.schema` reads it):

    python -m config.dataset            # (re)writes every rendering; `make pipeline-definitions` runs it
    python -m config.dataset --check    # exit 1 and name the stale renderings

The renderings are part of the step code, so a contract change changes the code's content hash: a new code
version, a retrain, and new cache keys. Synth refuses a stale rendering (`stale_renderings`), as it refuses a
stale pipeline definition.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from config.errors import ConfigError, describe
from config.section import Section
from config.values import Rule

ROOT = Path(__file__).resolve().parent.parent
DATASETS_DIR = ROOT / "datasets"  # the contracts, one YAML file per data set
RENDERED_DIR = ROOT / "pipeline_code" / "datasets"  # their JSON renderings, shipped with the step code

# Feature Store's rule for feature names (pipeline_code.schema.FEATURE_NAME_PATTERN; repeated, not imported, so
# that a pydantic-only import of this module stays light).
_FEATURE_NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")

RawName = Annotated[
    str,
    Field(pattern=r"^[^,\s\"']([^,\"']{0,62}[^,\s\"'])?$"),
    Rule("a raw column name as the file's header writes it: 1-64 characters, no comma, quote or outer blank"),
]
ColumnType = Literal["numeric", "integer", "categorical", "boolean", "timestamp"]
# How each type is stored in the Feature Store (and the Glue table).
_STORE_TYPES = {"numeric": "Fractional", "integer": "Integral", "categorical": "String", "boolean": "String"}
_DEFAULT_BOOLEAN = ["false", "true"]


class ColumnSpec(Section):
    """One raw column, in the order the raw files hold them."""

    name: RawName = Field(description="The column's name in the raw files' header.")
    feature_name: str | None = Field(
        default=None,
        description="Its name in the processed data, the Feature Store and the Glue table; default: `name` with "
        "each run of other characters than letters and digits replaced by `_` (`education-num` -> "
        "`education_num`).",
    )
    type: ColumnType = Field(
        description="numeric (any number), integer (whole numbers), categorical (one of `categories`), boolean "
        "(one of two `categories`, false first), timestamp (ISO 8601; carried in the raw files, never a model "
        "feature)."
    )
    range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = Field(
        default=None,
        description="numeric and integer (required): [minimum, maximum] a valid value lies in, inclusive.",
    )
    categories: Annotated[list[str], Field(min_length=1)] | Literal["learn"] | None = Field(
        default=None,
        description="categorical (required): the allowed values; their order fixes the codes the model sees; or "
        "`learn`: preprocessing learns them from the training split (the most frequent `max_categories` seen at "
        "least `min_count` times, in alphabetical order) and adds one more, `(other)`, that every other value "
        "maps to, in training and at serving (counted as an unseen category there). "
        "boolean: the false and the true value as the files write them (default [false, true]).",
    )
    min_count: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None,
        description="`categories: learn` only: a value seen fewer times in the training split folds into "
        "`(other)` (default 1: every value seen is kept).",
    )
    max_categories: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None,
        description="`categories: learn` only: at most this many learned categories, the most frequent (default "
        "100); the rest fold into `(other)`.",
    )

    @property
    def learned(self) -> bool:
        """Whether preprocessing learns the column's categories from the training split."""
        return self.categories == "learn"

    @property
    def processed_name(self) -> str:
        return self.feature_name or re.sub(r"[^A-Za-z0-9]+", "_", self.name).strip("_")

    @property
    def allowed(self) -> list[str]:
        """The categories of a categorical or boolean column (boolean: false first)."""
        if self.categories == "learn":
            return []
        if self.type == "boolean":
            return self.categories or _DEFAULT_BOOLEAN
        return self.categories or []


class LabelSpec(Section):
    """The column the model predicts: a categorical or boolean column with two values."""

    column: RawName = Field(description="The raw column holding the label (one of `columns`).")
    positive: str = Field(description="The label value the model predicts the probability of.")
    trailing_chars: str = Field(
        default="",
        description="Characters stripped from the end of a label value before it is read (UCI's adult.test "
        "writes `>50K.`).",
    )


class FacetSpec(Section):
    """A sensitive attribute whose groups the bias checks compare."""

    column: RawName = Field(description="A categorical or boolean column (one of `columns`, not the label).")
    group: str | None = Field(
        default=None,
        description="The group the single-facet checks (SageMaker Clarify's, Model Monitor's) compare with the "
        "rest; default: the column's first category. Only the first facet's is used by those checks.",
    )


class DatasetContract(Section):
    """A data set: `datasets/<name>.yaml`."""

    title: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 .-]{0,39}$")] = Field(
        description="A short name for descriptions (the feature group's: `<title> features and label, ...`)."
    )
    description: str = Field(default="", description="What the data set is, for people.")
    source: str = Field(default="", description="Where it comes from and under which licence (attribution).")
    missing_token: Annotated[str, Field(min_length=1, max_length=16)] = Field(
        description="How the raw files write a missing value (an empty field is missing too)."
    )
    columns: Annotated[list[ColumnSpec], Field(min_length=2)] = Field(
        description="Every raw column, in the files' order (the order of a file without header)."
    )
    label: LabelSpec = Field(description="The label.")
    record_identifier: str = Field(
        default="record_id", description="The Feature Store record identifier feature (written by the pipeline)."
    )
    event_time: str = Field(
        default="event_time", description="The Feature Store event time feature (written by the pipeline)."
    )
    facets: list[FacetSpec] = Field(
        min_length=1, description="The sensitive attributes of the bias checks, the first the primary one."
    )
    min_facet_group: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=30,
        description="The smallest facet group (and rest) of the test split the bias checks report: smaller ones "
        "are too noisy. A data set whose test split has no group this large has no bias figure, and the training "
        "pipeline's bias gate fails.",
    )
    average_row_bytes: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        description="Average bytes of one raw CSV row: the new-data trigger estimates the rows of a landed file "
        "from its size with it (`retraining.min_new_rows`)."
    )

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def features(self) -> list[ColumnSpec]:
        """The model's feature columns: every column but the label and the timestamps."""
        return [c for c in self.columns if c.name != self.label.column and c.type != "timestamp"]

    def problems(self) -> Iterator[tuple[str, Any, str]]:
        """What no single value shows: (dotted key, value, what is wrong), every one of them."""
        seen: dict[str, int] = {}
        processed: dict[str, int] = {}
        for i, col in enumerate(self.columns):
            key = f"columns[{i}]"
            if col.name in seen:
                yield f"{key}.name", col.name, f"duplicate column: also columns[{seen[col.name]}]"
            seen.setdefault(col.name, i)
            name = col.processed_name
            if not _FEATURE_NAME.fullmatch(name):
                yield (
                    f"{key}.feature_name",
                    name,
                    "not a Feature Store name (letters, digits, `-`/`_` inside, 64 at most)",
                )
            elif name in processed:
                yield f"{key}.feature_name", name, f"duplicate processed name: also columns[{processed[name]}]"
            processed.setdefault(name, i)
            if col.type in ("numeric", "integer"):
                if col.range is None:
                    yield f"{key}.range", None, f"a {col.type} column needs its [minimum, maximum]"
                elif col.range[0] > col.range[1]:
                    yield f"{key}.range", col.range, "the minimum is above the maximum"
                if col.categories is not None:
                    yield f"{key}.categories", col.categories, f"a {col.type} column has no categories (use range)"
            else:
                if col.range is not None:
                    yield f"{key}.range", col.range, f"a {col.type} column has no range"
            if col.type == "categorical" and col.categories is None:
                yield f"{key}.categories", None, "a categorical column needs its categories (a list, or `learn`)"
            if col.learned and col.type != "categorical":
                yield f"{key}.categories", "learn", f"only a categorical column learns its categories, not a {col.type}"
            for bound in ("min_count", "max_categories"):
                if getattr(col, bound) is not None and not col.learned:
                    yield (
                        f"{key}.{bound}",
                        getattr(col, bound),
                        "only a column with `categories: learn` has this bound (its categories are listed)",
                    )
            if col.learned and col.name == self.label.column:
                yield f"{key}.categories", "learn", "the label's two values are listed, never learned"
            if col.type == "boolean" and len(col.allowed) != 2:
                yield f"{key}.categories", col.categories, "a boolean column has exactly two values: [false, true]"
            if col.type == "timestamp" and col.categories is not None:
                yield f"{key}.categories", col.categories, "a timestamp column has no categories"
            duplicates = sorted({c for c in col.allowed if col.allowed.count(c) > 1})
            if duplicates:
                yield f"{key}.categories", col.categories, f"categories given twice: {', '.join(duplicates)}"
        for reserved in ("record_identifier", "event_time"):
            value = getattr(self, reserved)
            if not _FEATURE_NAME.fullmatch(value):
                yield reserved, value, "not a Feature Store name (letters, digits, `-`/`_` inside, 64 at most)"
            if value in processed:
                yield reserved, value, f"the name of a column (columns[{processed[value]}]); choose another"
        if self.record_identifier == self.event_time:
            yield "event_time", self.event_time, "the same name as record_identifier"
        yield from self._label_problems(list(seen))
        yield from self._facet_problems(list(seen))
        if not self.features:
            yield "columns", [c.name for c in self.columns], "no feature column besides the label and timestamps"

    def _label_problems(self, names: list[str]) -> Iterator[tuple[str, Any, str]]:
        label = self.column(self.label.column)
        if label is None:
            yield "label.column", self.label.column, f"not a column; the columns are {', '.join(names)}"
            return
        if label.type not in ("categorical", "boolean"):
            yield "label.column", label.name, f"the label must be categorical or boolean, not {label.type}"
            return
        if len(label.allowed) != 2:
            yield "label.column", label.name, f"the label needs exactly two categories, column has {label.allowed}"
        if self.label.positive not in label.allowed:
            yield "label.positive", self.label.positive, f"not a category of column '{label.name}' {label.allowed}"

    def _facet_problems(self, names: list[str]) -> Iterator[tuple[str, Any, str]]:
        facets = [f.column for f in self.facets]
        for i, facet in enumerate(self.facets):
            key = f"facets[{i}]"
            col = self.column(facet.column)
            if col is None:
                yield f"{key}.column", facet.column, f"not a column; the columns are {', '.join(names)}"
                continue
            if facets.index(facet.column) != i:
                yield f"{key}.column", facet.column, "facet given twice"
            if col.name == self.label.column:
                yield f"{key}.column", facet.column, "the label cannot be a facet"
            elif col.type not in ("categorical", "boolean"):
                yield f"{key}.column", facet.column, f"a facet must be categorical or boolean, not {col.type}"
            elif col.learned:
                yield (
                    f"{key}.column",
                    facet.column,
                    "a facet's categories must be listed (the bias checks compare fixed groups), not learned",
                )
            elif facet.group is not None and facet.group not in col.allowed:
                yield f"{key}.group", facet.group, f"not a category of column '{col.name}' {col.allowed}"


def contract_path(name: str) -> Path:
    return DATASETS_DIR / f"{name}.yaml"


def available() -> list[str]:
    return sorted(p.stem for p in DATASETS_DIR.glob("*.yaml"))


def validate(data: Any, where: str) -> tuple[DatasetContract | None, list[str]]:
    """A contract's data validated: the model, or None and every problem as a line naming `where` and the key."""
    if not isinstance(data, dict):
        return None, [f"{where}: must be a mapping with keys {', '.join(DatasetContract.model_fields)}"]
    try:
        contract = DatasetContract.model_validate(data)
    except ValidationError as exc:
        return None, [describe(err, where, model=DatasetContract) for err in exc.errors()]
    problems = [f"{where}: key '{key}' has value {value!r}: {message}" for key, value, message in contract.problems()]
    return (None if problems else contract), problems


@cache
def load_contract(name: str) -> DatasetContract:
    """`datasets/<name>.yaml`, validated; a `ConfigError` listing every problem (file, key, value, rule)."""
    from config.loader import read_yaml  # the loader imports the sections, which import this module

    path = contract_path(name)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such data set contract; the contracts are {', '.join(available()) or 'none'} "
            f"({DATASETS_DIR.relative_to(ROOT)}/<name>.yaml)"
        )
    contract, problems = validate(read_yaml(path), str(path.relative_to(ROOT)))
    if contract is None:
        raise ConfigError("invalid data set contract:\n  " + "\n  ".join(problems))
    return contract


def render(name: str, contract: DatasetContract) -> dict[str, Any]:
    """The contract as `pipeline_code.schema.Dataset.from_document` reads it (standard library only)."""
    features: list[dict[str, Any]] = []
    for col in contract.features:
        item: dict[str, Any] = {"raw_name": col.name, "name": col.processed_name, "type": _STORE_TYPES[col.type]}
        if col.learned:
            item |= {
                "kind": "categorical",
                "categories": [],
                "learn": {"min_count": col.min_count or 1, "max_categories": col.max_categories or 100},
            }
        elif col.type in ("categorical", "boolean"):
            item |= {"kind": "categorical", "categories": col.allowed}
        else:
            assert col.range is not None
            minimum, maximum = col.range
            item |= {"kind": "numeric", "minimum": _number(minimum), "maximum": _number(maximum)}
        features.append(item)
    label = contract.column(contract.label.column)
    assert label is not None
    negative = next(v for v in label.allowed if v != contract.label.positive)
    facets = []
    for facet in contract.facets:
        facet_col = contract.column(facet.column)
        assert facet_col is not None
        facets.append({"name": facet_col.processed_name, "group": facet.group or facet_col.allowed[0]})
    return {
        "name": name,
        "title": contract.title,
        "description": contract.description,
        "source": contract.source,
        "raw_prefix": f"{name}/",
        "missing_token": contract.missing_token,
        "raw_columns": [c.name for c in contract.columns],
        "timestamps": [c.name for c in contract.columns if c.type == "timestamp"],
        "features": features,
        "label": {
            "raw_name": label.name,
            "name": label.processed_name,
            "values": [negative, contract.label.positive],
            "trailing_chars": contract.label.trailing_chars,
        },
        "facets": facets,
        "record_identifier": contract.record_identifier,
        "event_time": contract.event_time,
        "average_row_bytes": contract.average_row_bytes,
        "min_facet_group": contract.min_facet_group,
    }


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def rendering_text(name: str) -> str:
    return json.dumps(render(name, load_contract(name)), indent=1) + "\n"


def rendering_path(name: str) -> Path:
    return RENDERED_DIR / f"{name}.json"


def stale_renderings(names: list[str] | None = None) -> list[str]:
    """The data sets whose committed rendering differs from their contract (or is missing)."""
    stale = []
    for name in names if names is not None else available():
        path = rendering_path(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != rendering_text(name):
            stale.append(name)
    return stale


def stale_message(names: list[str]) -> str:
    files = ", ".join(str(rendering_path(n).relative_to(ROOT)) for n in names)
    return (
        f"the data set rendering(s) {files} differ from their contract(s) in {DATASETS_DIR.relative_to(ROOT)}/: "
        "run `python -m config.dataset` (`make pipeline-definitions` runs it) and commit what it writes"
    )


def write_renderings() -> list[Path]:
    """Every contract's rendering, and no rendering without its contract."""
    RENDERED_DIR.mkdir(exist_ok=True)
    names = available()
    for orphan in RENDERED_DIR.glob("*.json"):
        if orphan.stem not in names:
            orphan.unlink()
    written = []
    for name in names:
        path = rendering_path(name)
        text = rendering_text(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a rendering is stale")
    args = parser.parse_args(argv)
    try:
        if args.check:
            orphans = [p.stem for p in RENDERED_DIR.glob("*.json") if p.stem not in available()]
            stale = stale_renderings() + orphans
            if stale:
                print(f"error: {stale_message(stale)}", file=sys.stderr)
                return 1
            return 0
        for path in write_renderings():
            print(f"wrote {path.relative_to(ROOT)}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
