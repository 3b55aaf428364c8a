"""Writing step outputs so that a failed step leaves nothing behind.

A downstream step (or a SageMaker output upload) must never pick up half a result, so every step writes into
a temporary sibling folder and moves each file into place only once all of them were written.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_output(out_dir: Path | str) -> Iterator[Path]:
    """Yield a staging folder whose files land in ``out_dir`` only if the block finishes without error.

    ``out_dir`` may already exist (SageMaker creates the output folders): existing files are replaced one by
    one, and the staging folder sits next to it so each move is a rename on the same file system.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        yield staging
        out.mkdir(parents=True, exist_ok=True)
        for item in sorted(staging.rglob("*")):
            if item.is_file():
                target = out / item.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                item.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _json_safe(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None, so every report parses in any JSON reader."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: Path, payload: Any) -> Path:
    """Write ``payload`` as indented JSON (strict: no NaN), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(payload), indent=2, allow_nan=False) + "\n")
    return path


def read_json(path: Path | str) -> Any:
    """Read a JSON file written by another step."""
    return json.loads(Path(path).read_text())
