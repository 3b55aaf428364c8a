"""The one feature transformation: a raw Adult record to the vector the model scores, driven by a feature manifest.

Every path that turns raw values into model input goes through `Encoder`: preprocess (``tabular`` hands it each
distinct word of a column batch), the endpoint and the batch transform (``serve``), and monitoring, which reads
the captured requests. The feature manifest is its only input: preprocess writes it
(``manifest/feature_manifest.json``) and training packs the same file into ``model.tar.gz``
(``metadata/feature_manifest.json``), so a model is always served with the encoding its training data got,
whatever this code's schema says at serving time. `Decoder` goes the other way (feedback, Model Monitor inputs).

The rules, the same on every path:

- features in the manifest's order; numbers as float64, whole numbers where the manifest says ``Integral``, inside
  the manifest's range; a missing value (the raw files' missing token ``?``, an empty field, JSON ``null``) is NaN;
- a category is its word with surrounding blanks trimmed: a known word becomes its position in the manifest's list,
  a missing one the missing code (-1); a word outside the list (unseen) gets the same code as a missing value, the
  only code the model knows for "no known category", and is reported so that every caller counts it.
  Training data never reach the model with one: validate refuses unseen categories and preprocess stops on any
  (a model's categories are its schema's; a new category is a schema change).
- a learned column (the contract's ``categories: learn``) has its categories from the training split, with
  ``schema.OTHER`` last (``other_category`` in the manifest): a word outside the list gets the code of that "other"
  category instead of the missing code, in training (rare values) and at serving, where it is reported as unseen
  and counted all the same.

A request record is also checked for what only a client gets wrong (`Encoder.encode_records`): a number where a
category is expected is an error, not an unseen word, so a client still sending the old encoded vector is refused
instead of being scored as "every category missing".

Standard library and numpy only: the SageMaker XGBoost serving container imports this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline_code import schema
from pipeline_code.errors import PipelineError

MANIFEST_FILE = "feature_manifest.json"
MISSING_CODE = -1
#: Numbers as the raw files write them: ASCII digits, an optional sign, fraction and exponent (no "1_000", "nan").
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MEMO_LIMIT = 4096  # distinct raw values remembered per numeric column (fnlwgt is nearly unique per row)
_MEMOIZED = (str, int, float)  # exact types (True is an int, and must stay an error): a text or a JSON number


class FieldError(ValueError):
    """One field of one record cannot be encoded; ``field`` is its raw column name."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"field '{field}': {problem}")


@dataclass(frozen=True)
class RecordProblem:
    """A field of a record (0-based index in the request) that cannot be encoded."""

    record: int
    field: str
    problem: str


class InvalidRecordsError(ValueError):
    """The records that cannot be encoded, every field named (the caller words the record numbers)."""

    def __init__(self, problems: list[RecordProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"record {p.record + 1}: field '{p.field}': {p.problem}" for p in problems))


@dataclass(frozen=True)
class Feature:
    """One feature as a manifest describes it; ``categories`` is None for a numeric feature."""

    name: str
    raw_name: str
    feature_store_type: str
    categories: tuple[str, ...] | None = None
    minimum: float = -math.inf
    maximum: float = math.inf
    learned: bool = False  # categories learned from the training split, `schema.OTHER` the last one

    @property
    def other_code(self) -> int | None:
        """The code every word outside a learned column's categories gets; None for a listed column."""
        return len(self.categories) - 1 if self.learned and self.categories else None

    @property
    def categorical(self) -> bool:
        return self.categories is not None

    @property
    def whole(self) -> bool:
        return self.feature_store_type == "Integral"


@dataclass(frozen=True)
class FeatureManifest:
    """The encoding of one model's features: order, kinds, category codes, ranges, missing and unseen rules."""

    features: tuple[Feature, ...]
    label_name: str
    label_raw_name: str
    label_values: tuple[str, str]  # (negative, positive), as the raw files write them
    missing_token: str = schema.MISSING_TOKEN
    missing_code: int = MISSING_CODE

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def raw_names(self) -> tuple[str, ...]:
        return tuple(f.raw_name for f in self.features)

    @property
    def positive_label(self) -> str:
        return self.label_values[1]

    @classmethod
    def from_schema(cls, learned: Mapping[str, Sequence[str]] | None = None) -> FeatureManifest:
        """What preprocess writes for the code's own schema (`pipeline_code.schema`); ``learned``: the categories
        preprocess learned for each learned column (by processed name; none learned: only `schema.OTHER`)."""
        learned = learned or {}
        features = tuple(
            Feature(
                c.name,
                c.raw_name,
                c.feature_store_type,
                categories=(*learned.get(c.name, ()), schema.OTHER) if c.learn else c.categories,
                learned=c.learn is not None,
            )
            if isinstance(c, schema.CategoricalColumn)
            else Feature(c.name, c.raw_name, c.feature_store_type, minimum=c.minimum, maximum=c.maximum)
            for c in schema.FEATURES
        )
        negative = next(v for v in schema.LABEL_VALUES if v != schema.POSITIVE_LABEL)
        return cls(features, schema.LABEL, schema.RAW_LABEL, (negative, schema.POSITIVE_LABEL))

    def document(self) -> dict[str, Any]:
        """The manifest as JSON (``feature_manifest.json``)."""
        return {
            "layout": "csv, no header, label first",
            "label": {
                "name": self.label_name,
                "raw_name": self.label_raw_name,
                "positive": self.positive_label,
                "values": list(self.label_values),
            },
            "missing_token": self.missing_token,
            "missing_category_code": self.missing_code,
            "unseen_category": "encoded as missing_category_code (a learned feature: other_category), and counted",
            "features": [
                {
                    "name": f.name,
                    "raw_name": f.raw_name,
                    "kind": "categorical" if f.categorical else "numeric",
                    "feature_store_type": f.feature_store_type,
                    **({"categories": list(f.categories)} if f.categories is not None else {}),
                    **({"other_category": schema.OTHER} if f.learned else {}),
                    **({} if f.categorical else {"minimum": f.minimum, "maximum": f.maximum}),
                }
                for f in self.features
            ],
        }

    @classmethod
    def from_document(cls, document: Any, where: str) -> FeatureManifest:
        """Read a manifest; anything missing or malformed is a PipelineError naming ``where`` and the key."""
        try:
            label = document["label"]
            features = tuple(_feature(item) for item in document["features"])
            values = tuple(str(v) for v in label["values"])
            positive = str(label["positive"])
            manifest = cls(
                features=features,
                label_name=str(label["name"]),
                label_raw_name=str(label["raw_name"]),
                label_values=(next(v for v in values if v != positive), positive),
                missing_token=str(document["missing_token"]),
                missing_code=int(document["missing_category_code"]),
            )
        except (KeyError, TypeError, ValueError, StopIteration) as err:
            raise PipelineError(f"{where}: not a feature manifest ({err!r} missing or malformed)") from None
        problems = []
        if not features:
            problems.append("no features")
        for names in ([f.raw_name for f in features], [f.name for f in features]):
            if len(set(names)) != len(names):
                problems.append(f"duplicate feature names in {names}")
        if len(values) != 2:
            problems.append(f"label values {list(values)}: exactly two needed")
        if positive not in values:
            problems.append(f"positive label {positive!r} is not one of {list(values)}")
        if problems:
            raise PipelineError(f"{where}: not a usable feature manifest: {'; '.join(problems)}")
        return manifest


def _feature(item: Mapping[str, Any]) -> Feature:
    kind = item["kind"]
    if kind == "categorical":
        categories = tuple(str(c) for c in item["categories"])
        if len(set(categories)) != len(categories):
            raise ValueError(f"feature {item['name']!r}: duplicate categories")
        other = item.get("other_category")
        if other is not None and (not categories or categories[-1] != other):
            raise ValueError(f"feature {item['name']!r}: other_category {other!r} is not its last category")
        return Feature(
            str(item["name"]),
            str(item["raw_name"]),
            str(item["feature_store_type"]),
            categories=categories,
            learned=other is not None,
        )
    if kind != "numeric":
        raise ValueError(f"feature {item.get('name')!r}: kind {kind!r}")
    return Feature(
        str(item["name"]),
        str(item["raw_name"]),
        str(item["feature_store_type"]),
        minimum=float(item["minimum"]),
        maximum=float(item["maximum"]),
    )


@dataclass
class Encoded:
    """Records in model layout: ``matrix`` is (records, features) float64; ``unseen`` by record index (only the
    records that have one), the raw column names and words of its unseen categories."""

    matrix: np.ndarray
    unseen: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def unseen_count(self) -> int:
        return sum(len(found) for found in self.unseen.values())


class Encoder:
    """Encodes raw values with one manifest's rules (module docstring)."""

    def __init__(self, manifest: FeatureManifest) -> None:
        self.manifest = manifest
        missing = {"": manifest.missing_code, manifest.missing_token: manifest.missing_code}
        self._codes: list[dict[str, int] | None] = [
            {**{word: code for code, word in enumerate(f.categories)}, **missing} if f.categories is not None else None
            for f in manifest.features
        ]
        self._numbers: list[dict[Any, float]] = [{} for _ in manifest.features]

    # ------------------------------------------------------------------ one value (every path)

    def code(self, j: int, word: str | None) -> tuple[int, bool]:
        """The code of a category word of feature ``j`` and whether the word is unseen: trimmed, the missing
        token or nothing → the missing code; a word outside the manifest's list → the missing code (a learned
        column's: its "other" code), unseen."""
        codes = self._codes[j]
        if codes is None:
            raise TypeError(f"feature '{self.manifest.features[j].name}' is numeric")
        if word is None:
            return self.manifest.missing_code, False
        found = codes.get(word)
        if found is None:
            found = codes.get(word.strip())
        if found is None:
            other = self.manifest.features[j].other_code
            return (self.manifest.missing_code if other is None else other), True
        return found, False

    def number(self, j: int, value: Any) -> float:
        """A numeric field as float64 (NaN when missing), checked: a number, finite, whole if Integral, in range."""
        feature = self.manifest.features[j]
        if value is None:
            return math.nan
        if isinstance(value, bool):
            raise FieldError(feature.raw_name, f"{json_text(value)} is not a number")
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                raise FieldError(feature.raw_name, f"{value} is not a number in range") from None
        elif isinstance(value, str):
            text = value.strip()
            if text in ("", self.manifest.missing_token):
                return math.nan
            if not NUMBER.fullmatch(text):
                raise FieldError(feature.raw_name, f"{_shown(value)} is not a number")
            number = float(text)
        else:
            raise FieldError(feature.raw_name, f"{json_text(value)} is not a number")
        if not math.isfinite(number):
            raise FieldError(feature.raw_name, f"{_shown(value)} is not a finite number")
        if feature.whole and not number.is_integer():
            raise FieldError(feature.raw_name, f"{_shown(value)} is not a whole number")
        if not feature.minimum <= number <= feature.maximum:
            raise FieldError(feature.raw_name, f"{_shown(value)} is outside [{feature.minimum:g}, {feature.maximum:g}]")
        return number

    def category(self, j: int, value: Any) -> tuple[int, bool]:
        """A request's category field: `code`, after refusing what is no category word (a number, true/false)."""
        feature = self.manifest.features[j]
        if value is not None and not isinstance(value, str):
            raise FieldError(feature.raw_name, f"{json_text(value)} is not a category name (a string)")
        code, unseen = self.code(j, value)
        # (a learned column's words are whatever the data held: a number word there is a category like any other)
        if unseen and not feature.learned and NUMBER.fullmatch(value.strip()):  # type: ignore[union-attr]
            raise FieldError(
                feature.raw_name,
                f"{_shown(value)} is a number where a category name is expected (one of "
                f"{_listed(feature.categories or ())}): the model serves raw records, not encoded codes",
            )
        return code, unseen

    # ------------------------------------------------------------------ records (serving, monitoring)

    def encode_records(self, records: Sequence[Sequence[Any]], *, max_problems: int = 10) -> Encoded:
        """Records (each the features' values in manifest order: strings, numbers or None) in model layout.

        Every field is checked; the first ``max_problems`` problems are raised together (`InvalidRecordsError`).
        """
        features = self.manifest.features
        matrix = np.empty((len(records), len(features)), dtype=np.float64)
        unseen: dict[int, dict[str, str]] = {}
        problems: list[RecordProblem] = []
        for j, feature in enumerate(features):
            column = matrix[:, j]
            if feature.categorical:
                codes = self._codes[j]
                assert codes is not None
                for i, record in enumerate(records):
                    value = record[j]
                    known = codes.get(value) if isinstance(value, str) else None
                    if known is not None:  # the common case: an exact known word
                        column[i] = known
                        continue
                    try:
                        code, is_unseen = self.category(j, value)
                    except FieldError as err:
                        problems.append(RecordProblem(i, err.field, err.problem))
                        continue
                    column[i] = code
                    if is_unseen:
                        unseen.setdefault(i, {})[feature.raw_name] = str(value).strip()
            else:
                memo = self._numbers[j]  # values already checked: ages and hours repeat a lot
                for i, record in enumerate(records):
                    value = record[j]
                    number = memo.get(value) if type(value) in _MEMOIZED else None
                    if number is None:
                        try:
                            number = self._number_of(j, value, memo)
                        except FieldError as err:
                            problems.append(RecordProblem(i, err.field, err.problem))
                            continue
                    column[i] = number
        if problems:
            problems.sort(key=lambda p: (p.record, self.manifest.raw_names.index(p.field)))
            raise InvalidRecordsError(problems[:max_problems])
        return Encoded(matrix, unseen)

    def _number_of(self, j: int, value: Any, memo: dict[Any, float]) -> float:
        number = self.number(j, value)
        if type(value) in _MEMOIZED and len(memo) < _MEMO_LIMIT:
            memo[value] = number
        return number


class Decoder:
    """Model-layout rows back to raw fields, as one manifest describes them (codes to words, NaN and -1 to the
    missing token, whole numbers without a fraction, the label as its raw word)."""

    def __init__(self, manifest: FeatureManifest, separator: str = ", ") -> None:
        self.manifest = manifest
        self.separator = separator
        self.header = [*manifest.raw_names, manifest.label_raw_name]

    def fields(self, row: Sequence[float]) -> list[str]:
        features = self.manifest.features
        if len(row) != len(features):
            raise PipelineError(f"a row has {len(row)} values for {len(features)} features")
        return [self._value(float(v), f) for v, f in zip(row, features, strict=True)]

    def line(self, row: Sequence[float], label: int | None = None) -> str:
        fields = self.fields(row)
        if label is not None:
            fields.append(self.manifest.label_values[int(label)])
        return self.separator.join(fields)

    def csv(self, rows: Sequence[Sequence[float]], labels: Sequence[int] | None, *, header: bool = True) -> bytes:
        """Lines of the raw layout (with the label column when ``labels`` are given), optionally under a header."""
        names = self.header if labels is not None else self.header[:-1]
        lines = [self.separator.join(names)] if header else []
        if labels is None:
            lines += [self.line(r) for r in rows]
        else:
            lines += [self.line(r, y) for r, y in zip(rows, labels, strict=True)]
        return ("\n".join(lines) + "\n").encode() if lines else b""

    def _value(self, value: float, feature: Feature) -> str:
        if feature.categories is None:
            if math.isnan(value):
                return self.manifest.missing_token
            return str(int(value)) if value.is_integer() else repr(value)
        if value == self.manifest.missing_code:
            return self.manifest.missing_token
        if not (value.is_integer() and 0 <= value < len(feature.categories)):
            raise PipelineError(f"code {value!r} is not a category of '{feature.name}' in the model's manifest")
        return feature.categories[int(value)]


def json_text(value: Any) -> str:
    """A value as a message shows it: JSON's spelling for JSON values (true, null), Python's repr otherwise."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return _shown(value)
    if isinstance(value, int | float):
        return repr(value)
    return f"a JSON {type(value).__name__.replace('dict', 'object').replace('list', 'array')}"


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _listed(categories: Sequence[str]) -> str:
    return ", ".join(categories[:5]) + (", ..." if len(categories) > 5 else "")
