"""Run `pipeline_definition.generate` in a child process with every socket blocked, and report what it tried.

The test session starts this once, in the background (tests/conftest.py): `python offline_generation.py OUT_DIR`
builds every environment's definitions into OUT_DIR/generated (and staging's with native checks, Model Monitor
and sharded data steps on into OUT_DIR/native) and writes OUT_DIR/report.json last: its exit code, the network
connections and DNS lookups attempted (all refused), the AWS calls the offline session stopped before sending,
and any error.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Where the session's background build writes (set by tests/conftest.py, read by the tests that wait for it).
OUT_VARIABLE = "MLOPS_OFFLINE_GENERATION_DIR"
attempts: list[str] = []
SHARDED = {"ValidateData": 2, "Preprocess": 3}  # the native build's scale_out


def _refuse(kind: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(f"{kind} {args[1:] if kind == 'connect' else args[:2]}")
        raise OSError(f"network blocked by the test: {kind}")

    return refuse


def generate_everything(out: Path, refused: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    import yaml

    from pipeline_definition import generate

    original = generate.build_definitions

    def recording(*args: Any, **kwargs: Any) -> tuple[dict[str, str], list[str]]:
        definitions, calls = original(*args, **kwargs)
        refused.extend(calls)
        return definitions, calls

    generate.build_definitions = recording  # type: ignore[assignment]
    (out / "generated").mkdir(parents=True)
    code = generate.main(["--out", str(out / "generated"), "--force"])
    # The same build with SageMaker's native checks and Model Monitor switched on for staging (an instance
    # endpoint: Model Monitor reads data capture).
    config = yaml.safe_load((ROOT / "config" / "environments.yaml").read_text())
    config["environments"]["staging"].setdefault("pipeline", {})["native_checks"] = True
    config["environments"]["staging"].setdefault("monitoring", {})["backend"] = "model-monitor"
    # ... and its data steps on several instances (test_definitions: sharded inputs, merge steps)
    config["environments"]["staging"]["scale_out"] = SHARDED
    config["environments"]["staging"].setdefault("training", {})["instance_count"] = 2  # distributed training
    native_config = out / "native-config.yaml"
    native_config.write_text(yaml.safe_dump(config))
    (out / "native").mkdir()
    return code | generate.main(["staging", "--out", str(out / "native"), "--force", "--config", str(native_config)])


def main(out: Path) -> int:
    socket.socket.connect = _refuse("connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse("connect")  # type: ignore[method-assign]
    socket.getaddrinfo = _refuse("getaddrinfo")
    socket.create_connection = _refuse("create_connection")
    refused: list[str] = []
    error = None
    try:
        code = generate_everything(out, refused)
    except Exception:  # reported to the waiting test, which fails with it
        code, error = 1, traceback.format_exc()
    report = {"exit": code, "network_attempts": attempts, "refused_aws_calls": refused, "error": error}
    partial = out / "report.json.partial"
    partial.write_text(json.dumps(report))
    os.replace(partial, out / "report.json")  # the waiting tests see a complete report or none
    return code


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
