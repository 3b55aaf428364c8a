"""Value types of the config file: the checks a single value must pass, whatever section it is in.

Each type is an `Annotated` alias that pydantic validates; a `Rule` in it says in words what the check allows,
so that `config.reference` can write it into docs/configuration.md without repeating it by hand.
A validator raises ValueError (pydantic's contract): the loader turns it into a `ConfigError` that names the
file, the environment and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, Field

EnvironmentName = Literal["dev", "staging", "prod"]
ENVIRONMENT_NAMES: tuple[str, ...] = get_args(EnvironmentName)

# SageMaker ML instance families this platform knows how to size. An unknown family is almost always a typo
# (ml.m5x.large) or a family SageMaker doesn't offer for jobs, and it would otherwise surface only at deploy.
INSTANCE_FAMILIES = frozenset(
    {
        "t3", "m5", "m5d", "m6i", "m6id", "m7i", "c5", "c5d", "c6i", "c6id", "c7i", "r5", "r5d", "r6i", "r6id",
        "r7i", "g4dn", "g5", "g6", "g6e", "p3", "p4d", "p5", "inf1", "inf2", "trn1",
    }
)  # fmt: skip
_INSTANCE_TYPE = re.compile(r"^ml\.(?P<family>[a-z0-9]+)\.(?P<size>medium|large|metal|\d*xlarge)$")

# Regions where SageMaker Pipelines, Feature Store and the Model Registry are all available.
REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
        "eu-south-2", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
        "ap-southeast-4", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-east-1", "me-south-1",
        "me-central-1", "il-central-1", "af-south-1",
    }
)  # fmt: skip

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """What a custom validator allows, in words: pydantic ignores it, the reference generator prints it."""

    text: str


# --------------------------------------------------------------------------------------------- validators


def instance_family(instance_type: str) -> str:
    """`ml.m5.xlarge` -> `m5`."""
    return instance_type.split(".")[1]


def _instance_type(value: str) -> str:
    match = _INSTANCE_TYPE.match(value)
    if not match:
        raise ValueError("must look like 'ml.<family>.<size>', e.g. 'ml.m5.xlarge'")
    if match["family"] not in INSTANCE_FAMILIES:
        raise ValueError(
            f"unknown instance family {match['family']!r}; allowed families: {', '.join(sorted(INSTANCE_FAMILIES))}"
        )
    return value


def _account_id(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted 012345678901 as the number 12345678901: the leading zero is lost silently.
        raise ValueError("must be a quoted string of 12 digits (YAML drops leading zeros from bare numbers)")
    return value


def _region(value: str) -> str:
    if value not in REGIONS:
        raise ValueError(f"unknown region; allowed regions: {', '.join(sorted(REGIONS))}")
    return value


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs accepts only {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return value


# ---------------------------------------------------------------------------------- EventBridge schedules

_CRON_FIELDS = (
    # name, number range, extra literal tokens, extra special characters
    ("minutes", (0, 59), (), ""),
    ("hours", (0, 23), (), ""),
    ("day-of-month", (1, 31), ("L", "LW"), "?W"),
    ("month", (1, 12), ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), ""),
    ("day-of-week", (1, 7), ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "L"), "?#L"),
    ("year", (1970, 2199), (), ""),
)
_RATE = re.compile(r"^rate\((?P<n>[1-9]\d*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")


def _cron_atom_ok(atom: str, bounds: tuple[int, int], words: tuple[str, ...], specials: str) -> bool:
    if atom == "*" or atom in words:
        return True
    if "#" in atom and "#" in specials:  # 6#3: the third Friday
        day, _, nth = atom.partition("#")
        return _cron_atom_ok(day, bounds, words, "") and nth.isdigit() and 1 <= int(nth) <= 5
    if atom.endswith("W") and "W" in specials:
        atom = atom[:-1]
    if atom.endswith("L") and "L" in specials and len(atom) > 1:
        atom = atom[:-1]
    base, slash, step = atom.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return False
    lo, dash, hi = base.partition("-")
    parts = [lo, hi] if dash else [lo]
    if slash and base == "*":
        return True
    return all(p in words or (p.isdigit() and bounds[0] <= int(p) <= bounds[1]) for p in parts)


def validate_schedule(value: str) -> str:
    """Validate an EventBridge (Scheduler) `cron(...)` or `rate(...)` expression; raise ValueError saying why not."""
    rate = _RATE.match(value)
    if rate:
        n, unit = rate.group("n", "unit")
        if (n == "1") != (not unit.endswith("s")):
            raise ValueError("use a singular unit for 1 and a plural one otherwise, e.g. 'rate(1 day)', 'rate(7 days)'")
        return value
    if not (value.startswith("cron(") and value.endswith(")")):
        raise ValueError("must be 'cron(min hour day-of-month month day-of-week year)' or 'rate(N unit)'")
    fields = value[5:-1].split()
    if len(fields) != 6:
        raise ValueError(f"cron needs 6 fields (min hour day-of-month month day-of-week year), got {len(fields)}")
    for text, (name, bounds, words, specials) in zip(fields, _CRON_FIELDS, strict=True):
        if text == "?" and "?" in specials:
            continue
        if not all(_cron_atom_ok(atom, bounds, words, specials) for atom in text.split(",")):
            raise ValueError(f"cron field {name} {text!r} is not valid (allowed {bounds[0]}-{bounds[1]}, * , - /)")
    if (fields[2] == "?") == (fields[4] == "?"):
        raise ValueError("cron needs '?' in exactly one of day-of-month and day-of-week")
    return value


# ------------------------------------------------------------------------------------------------- types

InstanceType = Annotated[
    str,
    AfterValidator(_instance_type),
    Rule("`ml.<family>.<size>` of a known family (" + ", ".join(sorted(INSTANCE_FAMILIES)) + ")"),
]
AccountId = Annotated[
    str, BeforeValidator(_account_id), Field(pattern=r"^\d{12}$"), Rule("a quoted string of 12 digits")
]
Region = Annotated[
    str,
    AfterValidator(_region),
    Rule("a region with SageMaker Pipelines, Feature Store and Model Registry: " + ", ".join(sorted(REGIONS))),
]
Schedule = Annotated[
    str,
    AfterValidator(validate_schedule),
    Rule(
        "EventBridge Scheduler, UTC: `cron(min hour day-of-month month day-of-week year)` with `?` in exactly "
        "one day field, or `rate(N minute|minutes|hour|hours|day|days)`"
    ),
]
LogRetentionDays = Annotated[
    int, AfterValidator(_log_retention), Rule("one of " + ", ".join(map(str, LOG_RETENTION_DAYS)))
]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), Rule("an e-mail address")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Days = Annotated[int, Field(ge=1, le=36500)]
TagKey = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w.:/=+\-@]+$")]
TagValue = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\w\s.:/=+\-@]*$")]


DatasetName = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9]{1,31}$"),
    Rule(
        "2-32 lowercase letters and digits, starting with a letter, naming `datasets/<name>.yaml` (it also names the "
        "raw-zone prefix `<name>/`, the Glue table and the feature group, so no `-` or `_`)"
    ),
]
