"""Validate and preprocess read every object a data snapshot delivers, in either raw layout, and the lineage
names each of them (key, bytes, SHA-256) with the snapshot's URI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline_code import preprocess, schema, tabular, validate
from pipeline_code.artifacts import read_json
from tests.pipeline_code.snapshot import KEYS, MANIFEST_URI, write_delivery


def test_every_delivered_object_is_read_in_either_layout(tmp_path: Path) -> None:
    rows = write_delivery(tmp_path / "data")
    arguments = ["--input", str(tmp_path / "data"), "--manifest-uri", MANIFEST_URI]
    assert validate.main([*arguments, "--output", str(tmp_path / "validation")]) == 0
    report = read_json(tmp_path / "validation" / "validation_report.json")
    assert report["row_count"] == sum(rows.values())
    assert report["manifest_uri"] == MANIFEST_URI

    assert preprocess.main([*arguments, "--output", str(tmp_path / "out")]) == 0
    written = sum(
        len((tmp_path / "out" / split / f"{split}.csv").read_text().splitlines()) for split in preprocess.SPLITS
    )
    assert written == sum(rows.values())  # no header or comment line became a row, none was dropped
    lineage = read_json(tmp_path / "out" / "manifest" / "lineage.json")
    assert lineage["manifest_uri"] == MANIFEST_URI
    assert [f["key"] for f in lineage["input"]["files"]] == sorted(KEYS)
    for entry in lineage["input"]["files"]:
        data = (tmp_path / "data" / entry["key"]).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_the_lineage_digest_changes_with_any_object_or_its_key(tmp_path: Path) -> None:
    write_delivery(tmp_path)
    paths = tabular.data_files(tmp_path, strict=True)
    digest = preprocess.input_lineage(paths, tmp_path)["input"]["sha256"]
    (tmp_path / KEYS[2]).rename(tmp_path / "feedback" / "moved.csv")  # same bytes, another key
    moved = preprocess.input_lineage(tabular.data_files(tmp_path), tmp_path)["input"]["sha256"]
    with (tmp_path / KEYS[0]).open("a") as f:  # one more byte in one object
        f.write("\n")
    grown = preprocess.input_lineage(tabular.data_files(tmp_path), tmp_path)["input"]["sha256"]
    assert len({digest, moved, grown}) == 3


def test_a_snapshot_object_that_is_no_data_file_is_named_not_skipped(tmp_path: Path) -> None:
    write_delivery(tmp_path)
    (tmp_path / "adult" / "adult.names").write_text("| the UCI description\n")
    with pytest.raises(Exception, match=r"not data files .*\['adult/adult.names'\]"):
        tabular.data_files(tmp_path, strict=True)
    assert len(tabular.data_files(tmp_path)) == 3  # a plain folder (a local run): other files are left alone
    code = preprocess.main(["--input", str(tmp_path), "--manifest-uri", MANIFEST_URI, "--output", str(tmp_path / "o")])
    assert code == 1


def test_a_headerless_file_with_the_wrong_field_count_is_named(tmp_path: Path) -> None:
    (tmp_path / "short.csv").write_text("39, State-gov, 77516\n")
    with pytest.raises(Exception, match=r"short.csv: first row has 3 fields and is no header; .* needs 15 fields"):
        tabular.raw_layout(tmp_path / "short.csv")


def test_validation_points_at_the_file_line_of_a_headerless_file(tmp_path: Path) -> None:
    write_delivery(tmp_path)
    test_file = tmp_path / "adult" / "adult.test"
    lines = test_file.read_text().splitlines()
    fields = lines[3].split(", ")  # line 4 of the file: the comment line, then data rows
    fields[schema.RAW_COLUMNS.index("sex")] = "Robot"
    lines[3] = ", ".join(fields)
    test_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(Exception, match=r"Robot.*first at adult.test line 4"):
        validate.validate(tabular.data_files(tmp_path, strict=True), validate.Limits())
