"""One content hash of pipeline_code/: the code's S3 prefix, the definition fingerprint and the release's
code-change trigger agree, so a README edit neither deploys new code nor starts a retrain."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline_definition import contract, fingerprint
from release import code_change_trigger


@pytest.fixture
def code(tmp_path: Path) -> Path:
    copy = tmp_path / "pipeline_code"
    shutil.copytree(contract.CODE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _hashes(code: Path) -> tuple[str, str]:
    """What names the deployed code (and enters the fingerprint), and what the release compares."""
    return fingerprint.code_hash(code), code_change_trigger.content_hash(code)


def test_the_copy_hashes_like_the_real_tree(code: Path) -> None:
    assert _hashes(code) == (contract.code_hash(), contract.code_hash())


def test_editing_the_readme_changes_neither(code: Path) -> None:
    before = _hashes(code)
    readme = code / "README.md"
    readme.write_text(readme.read_text() + "\nA clarification.\n")
    assert _hashes(code) == before


def test_editing_a_module_changes_both(code: Path) -> None:
    before = _hashes(code)
    module = code / "schema.py"
    module.write_text(module.read_text() + "\n# a change\n")
    after = _hashes(code)
    assert after[0] != before[0]
    assert after[1] != before[1]
    assert after[0] == after[1]


def test_the_hashed_files_are_the_deployed_files(code: Path) -> None:
    # CDK deploys pipeline_code/ with CODE_EXCLUDE left out: the hash must cover exactly what it ships.
    names = {p.relative_to(code).as_posix() for p in contract.code_files(code)}
    assert "README.md" not in names
    assert {"schema.py", "requirements.txt", "monitoring_inputs.py"} <= names
