"""What every step's entry point shares: SageMaker default paths and uniform error reporting.

Only these defaults know the container paths (``/opt/ml/...`` and the ``SM_*`` variables the SageMaker
training toolkit sets); every path is an argument, so a local run or a test passes its own folders.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any, TypeVar

from pipeline_code.errors import PipelineError

L = TypeVar("L")

PROCESSING_INPUT = "/opt/ml/processing/input"
PROCESSING_OUTPUT = "/opt/ml/processing/output"


def sm_env(name: str, default: str) -> str:
    """A SageMaker training variable (``SM_MODEL_DIR``, ``SM_CHANNEL_TRAIN``...) or its documented default."""
    return os.environ.get(name, default)


def add_limit_arguments(parser: argparse.ArgumentParser, defaults: Any) -> None:
    """One ``--kebab-case`` option per field of a limits dataclass, so a new limit is configurable at once."""
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)


def limits_from_args(cls: type[L], args: argparse.Namespace) -> L:
    """The limits dataclass back from the options ``add_limit_arguments`` added."""
    return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def run_step(step: Callable[[], None], name: str) -> int:
    """Run a step: 0 on success; on a ``PipelineError`` print the message to stderr and return 1."""
    try:
        step()
    except PipelineError as err:
        print(f"{name} failed: {err}", file=sys.stderr)
        return 1
    return 0
