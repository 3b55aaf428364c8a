"""Run `pipeline_definition.generate` in a child process with every socket blocked, and report what it tried.

Used by the tests: `python tests/pipeline_definition/offline_generation.py OUT_DIR` builds every environment's
definition into OUT_DIR (and dev's with native checks on into OUT_DIR/../native) and prints one JSON line:
the network connections and DNS lookups attempted (all refused) and the AWS calls the offline session stopped
before sending.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
attempts: list[str] = []


def _refuse(kind: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(f"{kind} {args[1:] if kind == 'connect' else args[:2]}")
        raise OSError(f"network blocked by the test: {kind}")

    return refuse


def main(out: Path) -> int:
    socket.socket.connect = _refuse("connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse("connect")  # type: ignore[method-assign]
    socket.getaddrinfo = _refuse("getaddrinfo")
    socket.create_connection = _refuse("create_connection")
    sys.path.insert(0, str(ROOT))
    from pipeline_definition import generate

    refused: list[str] = []
    original = generate.build_definition

    def recording(*args: Any, **kwargs: Any) -> tuple[str, list[str]]:
        definition, calls = original(*args, **kwargs)
        refused.extend(calls)
        return definition, calls

    generate.build_definition = recording  # type: ignore[assignment]
    code = generate.main(["--out", str(out), "--force"])
    # The same build with SageMaker's native checks switched on for dev (accounts with Model Monitor/Clarify).
    import yaml

    config = yaml.safe_load((ROOT / "config" / "environments.yaml").read_text())
    config["environments"]["dev"].setdefault("pipeline", {})["native_checks"] = True
    native_config = out.parent / "native-config.yaml"
    native_config.write_text(yaml.safe_dump(config))
    (out.parent / "native").mkdir(exist_ok=True)
    code |= generate.main(["dev", "--out", str(out.parent / "native"), "--force", "--config", str(native_config)])
    print(json.dumps({"exit": code, "network_attempts": attempts, "refused_aws_calls": refused}))
    return code


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
