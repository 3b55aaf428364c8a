"""The run's most expensive shared folders, started by the pytest-xdist controller in background processes as the
session starts, so that no worker sits idle while another builds one.

With two workers on two cores, the first worker that needs a shared folder (`tests.once`) builds it and the other,
if it needs the folder meanwhile, waits with nothing to do: in a quiet run one worker waited 7.7 s for the local ML
run and 6.2 s for the release's synthesis. Started here, the builds run beside the workers from the beginning
(while they collect and run the tests that need none of it), and a worker that needs a folder before it is ready
waits while its builder keeps the core busy. Same builds, same folders and the same lock as `tests.once`:
whichever process takes the lock first builds; a prebuild that fails leaves no `.done` marker, and the first worker
that asks builds the folder again (and fails the tests that need it with the real error).

    python tests/prebuild.py ROOT NAME
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: TreeSHAP on the whole 16,281-row test split costs ~7 s of CPU here; the tests check how attributions are computed
#: and reported, which a 2,000-row seeded sample shows as well (the step's own default stays 20,000)
EXPLAIN_ROWS = 2000


def synthesis(outdir: Path) -> None:
    """The app exactly as `make synth` builds it (same config, same feature flags, cdk-nag on)."""
    from app import create_app
    from config import load_config

    create_app(load_config(ROOT / "config" / "environments.yaml"), outdir=str(outdir)).synth()


def local_run(outdir: Path) -> None:
    """Every ML step on the shipped Adult data with every shift scenario (validate, preprocess, train, evaluate,
    bias, drift)."""
    from pipeline_code import local_run, shifts

    local_run.run_pipeline(ROOT / "data" / "adult", outdir, list(shifts.BASIC_SCENARIOS), explain_rows=EXPLAIN_ROWS)


def release(outdir: Path) -> None:
    from tests.release_synthesis import build_release

    build_release(outdir)


#: by shared folder name (`tests.once`): the ones several test files need, each ~10 s of CPU or more
BUILDS: dict[str, Callable[[Path], None]] = {"cdk.out": synthesis, "local-run": local_run, "cdk.out.release": release}


def start(root: Path) -> list[subprocess.Popen[bytes]]:
    """One background process per folder of `BUILDS`, building it under `root` (the run's shared temporary root);
    each holds the folder's lock before it imports anything. Their output goes to `root/<name>.prebuild.log`."""
    processes = []
    for name in BUILDS:
        with (root / f"{name}.prebuild.log").open("wb") as log:
            command = [sys.executable, str(Path(__file__)), str(root), name]
            processes.append(subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log))
    return processes


def main(root: Path, name: str) -> None:
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # first, before the imports: no worker starts the same build meanwhile
        sys.path.insert(0, str(ROOT))
        # `tests` is this folder, a namespace package, as pytest registers it: a dependency installs a regular
        # package named `tests`, which a plain import would find first
        sys.modules["tests"] = package = types.ModuleType("tests")
        package.__path__ = [str(ROOT / "tests")]
        from pipeline_definition import heap
        from tests.once import build_locked

        heap.long_lived()

        build_locked(root, name, BUILDS[name])


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
