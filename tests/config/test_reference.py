"""docs/configuration.md (config.reference): written from the models, and never left behind them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from config import PlatformConfig
from config.reference import COMMAND, OUTPUT, _model_of, main, render


def _models(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    yield model
    for field in model.model_fields.values():
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            nested = _model_of(candidate)
            if nested is not None:
                yield from _models(nested)


def test_every_field_has_a_description_for_the_reader() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in _models(PlatformConfig)
        for name, field in model.model_fields.items()
        if not (field.description and len(field.description) > 10)
    ]
    assert missing == [], "fields without Field(description=...): " + ", ".join(missing)


def test_the_committed_reference_is_what_the_models_generate() -> None:
    committed = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else ""
    assert committed == render(), (
        f"{OUTPUT.relative_to(OUTPUT.parents[1])} is out of date with the models in config/: "
        f"run `{COMMAND}` (python -m config.reference) and commit the result"
    )


def test_the_reference_names_every_key_of_every_section() -> None:
    text = render()
    for model in _models(PlatformConfig):
        for name in model.model_fields:
            if name not in ("name", "config_file", "environments"):  # set by the loader / the file's own layout
                assert f"`{name}`" in text, f"{model.__name__}.{name}"


def test_the_command_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "configuration.md"
    assert main(["--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()
