"""A small data snapshot as a ManifestFile input delivers it: each object under its key, in the raw layouts
the platform meets (UCI's originals without header, adult.test with its comment line; feedback with header)."""

from __future__ import annotations

import gzip
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MANIFEST_URI = "s3://mlops-dev-artifacts-123456789012-eu-west-1/data-snapshots/0123456789abcdef.manifest"
KEYS = ("adult/adult.data", "adult/adult.test", "feedback/2026/12/01/labelled-0000.csv")


def _lines(name: str) -> list[str]:
    with gzip.open(REPO / "data" / "adult" / name, "rt") as f:
        return f.read().splitlines()


def write_delivery(root: Path, rows: tuple[int, int, int] = (2000, 600, 400)) -> dict[str, int]:
    """Write the three objects under `root`; return each key's data row count."""
    train, test = _lines("adult.data.gz"), _lines("adult.test.gz")
    header = train[0]
    contents = {
        KEYS[0]: [*train[1 : 1 + rows[0]], ""],  # the UCI original ends with an empty line
        KEYS[1]: ["|1x3 Cross validator", *test[1 : 1 + rows[1]]],
        KEYS[2]: [header, *train[-rows[2] :]],
    }
    for key, lines in contents.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return dict(zip(KEYS, rows, strict=True))
