"""What a cold start imports: no function under lambdas/ may load pydantic (~150 ms of every cold start with its
first model); the triggers' events and settings are JSON Schemas (fastjsonschema) and dataclasses. Each handler is
imported in a fresh interpreter, as in Lambda, with pydantic installed and importable: only the code decides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lambdas.conftest import REGION, SETTINGS

ROOT = Path(__file__).resolve().parents[2]

# A meta-path finder that records who imports pydantic (and lets the import happen, so that a module that
# reintroduces it still imports and the check below names it), then the handler's import.
PROBE = """
import json, sys, traceback

class Recorder:
    importers = []

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pydantic", "pydantic_core"):
            frames = [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack() if "/lambdas/" in f.filename]
            Recorder.importers.append({"module": name, "from": frames[-1:]})
        return None

sys.meta_path.insert(0, Recorder())
import lambdas.{handler}.handler
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core"))
print(json.dumps({"loaded": loaded, "importers": Recorder.importers[:5],
                  "fastjsonschema": "fastjsonschema" in sys.modules}))
"""


def _import_in_fresh_interpreter(handler: str) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    environment |= SETTINGS | {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE.replace("{handler}", handler)],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_pydantic_is_installed_so_the_check_below_can_fail() -> None:
    import importlib.util

    assert importlib.util.find_spec("pydantic") is not None


@pytest.mark.parametrize("handler", ["retrain_on_drift", "retrain_on_new_data", "retrain_on_schedule", "smoke_test"])
def test_a_trigger_imports_without_pydantic(handler: str) -> None:
    answer = _import_in_fresh_interpreter(handler)
    assert answer["importers"] == [], f"pydantic is imported at cold start: {answer['importers']}"
    assert answer["loaded"] == []
    if handler != "smoke_test":  # plain boto3, no events to validate
        assert answer["fastjsonschema"] is True  # the schemas are compiled at import, not at the first event
