"""Write docs/configuration.md from the models, so the reference cannot drift from what the loader accepts.

    python -m config.reference                 # writes docs/configuration.md (`make docs`)
    python -m config.reference --out FILE      # writes FILE instead

Everything comes from the code: the sections and their docstrings, each field's type, bounds and description,
the words of the custom checks (`values.Rule`) and of the checks across fields (the model validators'
docstrings). The Default column is the value under `defaults:` in the committed config/environments.yaml,
what an environment gets unless it sets its own; the release section's defaults are the model's.
tests/config/test_reference.py fails when the committed file differs from what this writes.
"""

from __future__ import annotations

import argparse
import inspect
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from config.dataset import ColumnSpec, DatasetContract, FacetSpec
from config.loader import DEFAULT_CONFIG_PATH, read_yaml
from config.platform import PlatformConfig
from config.release import ReleaseSettings
from config.sections import EnvironmentConfig
from config.values import ENVIRONMENT_NAMES, Rule

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "configuration.md"
COMMAND = "make docs"  # or `python -m config.reference`
_REQUIRED = "required"
_SET_BY_LOADER = {"name"}  # EnvironmentConfig.name: the key under `environments`, never written by a person
_NO_DEFAULT = object()


# ------------------------------------------------------------------------------------------- annotations


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The type inside `Annotated[...]` layers, and all their metadata (constraints, validators, rules)."""
    metadata: list[Any] = []
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        metadata += extra
    flat: list[Any] = []
    for item in metadata:
        flat += item.metadata if isinstance(item, FieldInfo) else [item]
    return annotation, flat


def _members(annotation: Any) -> tuple[list[Any], bool]:
    """The non-None members of a union (or the one type), and whether None is allowed."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return members, len(members) < len(get_args(annotation))
    return [annotation], False


def _model_of(annotation: Any) -> type[BaseModel] | None:
    members, _ = _members(annotation)
    model = members[0] if len(members) == 1 else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


_TYPE_NAMES = {int: "integer", float: "number", bool: "boolean", str: "string"}


def _type_name(annotation: Any) -> str:
    members, nullable = _members(annotation)
    names = []
    for member in members:
        base, _ = _unwrap(member)
        origin = get_origin(base)
        if get_origin(base) is Literal:
            names.append(_TYPE_NAMES.get(type(get_args(base)[0]), "value"))
        elif origin is list:
            names.append(f"list of {_type_name(get_args(base)[0])}")
        elif origin is dict:
            key, value = get_args(base)
            names.append(f"mapping of {_type_name(key)} to {_type_name(value)}")
        elif isinstance(base, type) and issubclass(base, BaseModel):
            names.append("section")
        else:
            names.append(_TYPE_NAMES.get(base, getattr(base, "__name__", str(base))))
    return " or ".join([*names, *(["null"] if nullable else [])])


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _describe_constraints(base: Any, metadata: Sequence[Any]) -> list[str]:
    """The checks on one value, in words: a Rule replaces the pattern it is written for."""
    found: list[str] = []
    if get_origin(base) is Literal:
        found.append("one of " + ", ".join(f"`{_yaml(v)}`" for v in get_args(base)))
    bounds = {k: getattr(m, k) for m in metadata for k in ("ge", "gt", "le", "lt") if hasattr(m, k)}
    if "ge" in bounds and "le" in bounds:
        found.append(f"{_number(bounds['ge'])} to {_number(bounds['le'])}")
    else:
        symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
        if bounds:
            found.append(" and ".join(f"{symbols[k]} {_number(v)}" for k, v in bounds.items()))
    lengths = [m for m in metadata if isinstance(m, annotated_types.MinLen | annotated_types.MaxLen)]
    low = next((m.min_length for m in lengths if isinstance(m, annotated_types.MinLen)), None)
    high = next((m.max_length for m in lengths if isinstance(m, annotated_types.MaxLen)), None)
    if low is not None and high is not None:
        found.append(f"{low} to {high} characters")
    elif low is not None:
        found.append(f"at least {low} character{'s' if low > 1 else ''}")
    rules = [m.text for m in metadata if isinstance(m, Rule)]
    patterns = [m.pattern for m in metadata if getattr(m, "pattern", None)]
    found += rules or [f"matches `{p}`" for p in patterns]
    return found


def _constraints(field: FieldInfo) -> str:
    annotation = field.annotation
    members, _ = _members(annotation)
    found: list[str] = []
    for member in members:
        base, metadata = _unwrap(member)
        if member is annotation:  # pydantic moves a field's own Annotated metadata onto the FieldInfo
            metadata = [*field.metadata, *metadata]
        if get_origin(base) is list:
            found += [f"each: {c}" for c in _describe_constraints(*_unwrap(get_args(base)[0]))]
        elif get_origin(base) is dict:
            key, value = (_unwrap(a) for a in get_args(base))
            found += [f"keys: {c}" for c in _describe_constraints(*key)]
            found += [f"values: {c}" for c in _describe_constraints(*value)]
        else:
            found += _describe_constraints(base, metadata)
    return "; ".join(found)


# ------------------------------------------------------------------------------------------------ output


def _yaml(value: Any) -> str:
    """A value as it would be written in the YAML file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return _number(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _anchor(path: str) -> str:
    return "config-" + path.replace(".", "-").replace("_", "-")


def _first_paragraph(doc: str | None) -> str:
    return " ".join(inspect.cleandoc(doc or "").split("\n\n")[0].split())


def _checks(model: type[BaseModel]) -> list[str]:
    """The model validators' docstrings: the rules across fields, in words."""
    validators = model.__pydantic_decorators__.model_validators.values()
    return [_first_paragraph(v.func.__doc__) for v in validators if v.func.__doc__]


def _default(field: FieldInfo, shipped: Any) -> str:
    if shipped is not _NO_DEFAULT:
        return f"`{_yaml(shipped)}`"
    if not field.is_required():
        return f"`{_yaml(field.default)}`"
    return _REQUIRED


def _section(
    model: type[BaseModel], path: str, shipped: Mapping[str, Any] | None, heading: str, level: int
) -> Iterator[str]:
    """A heading and table for `model` at the dotted `path` ("" for an environment), then its nested sections."""
    yield f'<a id="{_anchor(path or "environment")}"></a>\n'
    yield f"{'#' * level} {heading}\n"
    yield _first_paragraph(model.__doc__) + "\n"
    yield "| key | type | default | allowed | description |"
    yield "| --- | --- | --- | --- | --- |"
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        if model is EnvironmentConfig and name in _SET_BY_LOADER:
            continue
        sub = _model_of(field.annotation)
        value = shipped.get(name, _NO_DEFAULT) if shipped is not None else _NO_DEFAULT
        if sub is not None:
            nested.append((name, sub))
            child = f"{path}.{name}" if path else name
            yield f"| `{name}` | section | | | {_cell(field.description or '')} See [`{child}`](#{_anchor(child)}). |"
            continue
        yield (
            f"| `{name}` | {_cell(_type_name(field.annotation))} | {_cell(_default(field, value))} | "
            f"{_cell(_constraints(field))} | {_cell(field.description or '')} |"
        )
    checks = _checks(model)
    if checks:
        yield "\nChecked across keys:\n"
        yield from (f"- {check}" for check in checks)
    yield ""
    for name, sub in nested:
        child = f"{path}.{name}" if path else name
        values = shipped.get(name) if shipped is not None else None
        yield from _section(sub, child, values if isinstance(values, Mapping) else None, f"`{child}`", level + 1)


def render(config_file: Path = DEFAULT_CONFIG_PATH) -> str:
    """docs/configuration.md as the models (and the committed file's `defaults:`) describe it today."""
    raw = read_yaml(config_file)
    defaults = raw.get("defaults") or {}
    project = PlatformConfig.model_fields["project_name"]
    environments = ", ".join(f"`{n}`" for n in ENVIRONMENT_NAMES)
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from the models in config/ by `{COMMAND}` (python -m config.reference): do not edit. -->",
        "",
        "`config/environments.yaml` is the one file a person edits. It has four top-level keys:",
        "",
        f"- `project_name` ({_type_name(project.annotation)}; {_cell(_constraints(project))}): "
        f"{_cell(project.description or '')}",
        "- `defaults`: the [environment keys](#config-environment) every environment starts from.",
        f"- `environments`: exactly {environments}, each with the environment keys it sets differently; nested "
        "sections merge key by key, lists and values replace.",
        "- `release` (optional): the [release pipeline](#config-release); only `-c release=true` reads it.",
        "",
        "Unknown keys, a key given twice in one mapping, and values outside what is allowed are errors that stop "
        "`make synth` with a message naming the file, the environment, the key, the value and what is allowed.",
        "**default** is the value under `defaults:` in the committed config/environments.yaml (what an environment "
        "gets unless it sets its own); *required* means the file must give a value.",
        "",
    ]
    lines += _section(EnvironmentConfig, "", defaults, "Environment keys", 2)
    lines += _section(ReleaseSettings, "release", None, "Release pipeline (`release`)", 2)
    lines += [
        "## Dataset contract (`datasets/<name>.yaml`)",
        "",
        "The file an environment's `dataset` names (docs/datasets.md). Besides each value's own check, the contract "
        "is checked across keys: column names and processed names unique, a range for every numeric and integer "
        "column and categories for every categorical one, the label a categorical or boolean column with two "
        "values one of which is `label.positive`, every facet a categorical or boolean column other than the label "
        "with its `group` among its categories, and `record_identifier` / `event_time` no column's name.",
        "",
    ]
    lines += _section(DatasetContract, "contract", None, "The contract's top-level keys", 3)
    lines += _section(ColumnSpec, "contract.columns", None, "A column (`columns[]`)", 3)
    lines += _section(FacetSpec, "contract.facets", None, "A facet (`facets[]`)", 3)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"where to write (default: {OUTPUT})")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
