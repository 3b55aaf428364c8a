"""The parameters every starter sends: TriggerDetail always fits SageMaker's model metadata rule."""

from __future__ import annotations

import unicodedata

import pytest
import regex
from hypothesis import assume, given
from hypothesis import strategies as st

from lambdas.shared.run_request import (
    MAX_METADATA_VALUE,
    description,
    display_name,
    metadata_value,
    run_parameters,
)

# SageMaker's CustomerMetadataProperties value rule (CreateModelPackage API reference), in the `regex` package's
# Unicode property syntax, which Python's `re` lacks: the implementation must not be its own oracle.
METADATA_VALUE = regex.compile(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")
DISPLAY_NAME = regex.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}")


@given(st.text(max_size=600))
def test_any_text_becomes_a_valid_metadata_value(text: str) -> None:
    value = metadata_value(text)
    assert 1 <= len(value) <= MAX_METADATA_VALUE
    assert METADATA_VALUE.fullmatch(value), value


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_an_allowed_value_is_kept_as_it_is(text: str) -> None:
    # A character newer than Python's Unicode database is unassigned to it, and replaced: conservative, still valid.
    assume(all(unicodedata.category(c) != "Cn" for c in text))
    assume(text == " ".join(text.split()))  # blanks are folded: a value has no runs or ends of them
    if METADATA_VALUE.fullmatch(text) and 1 <= len(text) <= MAX_METADATA_VALUE:
        assert metadata_value(text) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (
            "s3://b/monitoring/reports/p2xk7w3n9b1c/CheckDrift/drift",
            "s3://b/monitoring/reports/p2xk7w3n9b1c/CheckDrift/drift",
        ),
        ("drift (psi) > 0.2; see #42\n", "drift _psi_ _ 0.2_ see _42_"),
        ("", "-"),
        ("\t\n", "__"),
        ("Größe 42 ½", "Größe 42 ½"),
    ],
)
def test_disallowed_characters_are_replaced(text: str, value: str) -> None:
    assert metadata_value(text) == value


def test_long_text_is_clipped_and_marked() -> None:
    value = metadata_value("x" * 1000)
    assert len(value) == MAX_METADATA_VALUE
    assert value.endswith("...")
    assert len(description("y" * 5000)) == 3072


@given(st.text(max_size=200))
def test_display_names_fit_sagemakers_pattern(text: str) -> None:
    name = display_name(text)
    assert DISPLAY_NAME.fullmatch(name) or name == "run", name


def test_run_parameters_name_the_cause_and_the_data() -> None:
    parameters = run_parameters(
        trigger="code-change", detail="commit abc (main)", manifest_uri="s3://a/data-snapshots/0123.manifest",
        code_version="abc",
    )  # fmt: skip
    assert parameters == {
        "Trigger": "code-change",
        "TriggerDetail": "commit abc _main_",
        "InputManifestUri": "s3://a/data-snapshots/0123.manifest",
        "CodeVersion": "abc",
    }
    assert "CodeVersion" not in run_parameters(trigger="drift", detail="d", manifest_uri="s3://a/m.manifest")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"trigger": "cron", "manifest_uri": "s3://a/m"}, "unknown trigger 'cron'"),
        ({"trigger": "drift", "manifest_uri": "adult/"}, "InputManifestUri must be an s3:// URI"),
    ],
)
def test_bad_run_parameters_are_named(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_parameters(detail="x", **arguments)
