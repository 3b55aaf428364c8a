"""Bad raw input: each case must fail with a message naming the problem, exit non-zero, and leave no output.

Given a small valid file built from the real data, when one defect is introduced, then both the validate
and the preprocess entry points reject it the same way.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline_code import preprocess, validate

ROWS = 300


def _replace_field(lines: list[str], column: int, value: str, row: int = 5) -> list[str]:
    fields = lines[row].split(", ")
    fields[column] = value
    return [*lines[:row], ", ".join(fields), *lines[row + 1 :]]


def _set_column(lines: list[str], column: int, value: str) -> list[str]:
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split(", ")
        fields[column] = value
        out.append(", ".join(fields))
    return out


def _drop_column(lines: list[str], column: int) -> list[str]:
    return [", ".join(f for i, f in enumerate(line.split(", ")) if i != column) for line in lines]


CASES: dict[str, tuple[Callable[[list[str]], list[str]], list[str]]] = {
    "missing column": (lambda ls: _drop_column(ls, 2), ["missing column 'fnlwgt'"]),
    "extra column": (
        lambda ls: [ls[0] + ", bonus"] + [line + ", 1" for line in ls[1:]],
        ["unexpected column 'bonus'"],
    ),
    "wrong type": (lambda ls: _replace_field(ls, 0, "forty"), ["age", "forty"]),
    "unseen category": (lambda ls: _replace_field(ls, 9, "Robot"), ["sex", "Robot"]),
    "empty file": (lambda ls: [], ["empty"]),
    "all-null column": (lambda ls: _set_column(ls, 6, "?"), ["occupation", "missing"]),
    "malformed csv": (lambda ls: [*ls[:7], ls[7].rsplit(",", 3)[0], *ls[8:]], ["malformed CSV", "columns"]),
    "wrong label values": (lambda ls: _replace_field(ls, 14, "maybe"), ["label", "maybe"]),
}


@pytest.fixture(params=sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def bad_input(request: pytest.FixtureRequest, adult_lines: list[str], tmp_path: Path) -> tuple[Path, list[str]]:
    make, expected = CASES[request.param]
    path = tmp_path / "input" / "bad.csv.gz"
    path.parent.mkdir()
    with gzip.open(path, "wt") as f:
        f.write("".join(line + "\n" for line in make(adult_lines[: ROWS + 1])))
    return path, expected


@pytest.mark.parametrize("step", [validate.main, preprocess.main], ids=["validate", "preprocess"])
def test_bad_input_fails_cleanly(
    step: Callable[[list[str]], int],
    bad_input: tuple[Path, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, expected = bad_input
    out = tmp_path / "out"

    code = step(["--input", str(path), "--output", str(out)])

    err = capsys.readouterr().err
    assert code != 0
    for fragment in expected:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert "Traceback" not in err
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and "input" not in p.parts]
    assert leftovers == [], leftovers


def test_validate_reports_every_violation_at_once(
    adult_lines: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _replace_field(_replace_field(adult_lines[: ROWS + 1], 0, "200", row=3), 9, "Robot", row=4)
    path = tmp_path / "two.csv"
    path.write_text("\n".join(lines) + "\n")

    assert validate.main(["--input", str(path), "--output", str(tmp_path / "out")]) == 1

    err = capsys.readouterr().err
    assert "'age'" in err
    assert "outside [16, 100]" in err
    assert "'sex'" in err
    assert "line 4" in err


def test_limits_are_arguments(adult_dir: Path, tmp_path: Path) -> None:
    # occupation is ~5.7 % missing in Adult: passes the default limit, fails a stricter one
    assert validate.main(["--input", str(adult_dir), "--output", str(tmp_path / "ok")]) == 0
    assert (
        validate.main(["--input", str(adult_dir), "--output", str(tmp_path / "strict"), "--max-missing-ratio", "0.01"])
        == 1
    )
    assert not (tmp_path / "strict").exists()
