"""Session fixtures computed once per test run, not once per pytest-xdist worker.

A synthesis of the whole app or a local run of every ML step costs seconds of CPU: with two workers on a 2-core
machine, computing it in each worker doubles that cost. The first worker to ask builds the folder under a lock in
the run's shared temporary root; the others wait for it and read the same files. (pytest-xdist's documented
pattern, with the standard library's `fcntl` lock instead of the filelock package.)
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def shared_folder(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str, build: Callable[[Path], None]
) -> Path:
    """A folder that `build` fills once per test run; readers must not write into it."""
    if worker_id == "master":  # no xdist: the session is the run
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    return build_once(tmp_path_factory.getbasetemp().parent, name, build)  # the parent: one per run, shared


def build_once(root: Path, name: str, build: Callable[[Path], None]) -> Path:
    """`root/name`, built by `build` unless a process of this run has built it already (under `root/name.lock`);
    a process that finds it being built waits for it. The workers, and the controller's prebuilds (`tests.prebuild`),
    meet here."""
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if `build` raises
        return build_locked(root, name, build)


def build_locked(root: Path, name: str, build: Callable[[Path], None]) -> Path:
    """`build_once`'s work, for a caller that holds the lock."""
    folder, done = root / name, root / f"{name}.done"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)  # a failed build of another process: start over
        folder.mkdir()
        build(folder)
        done.touch()
    return folder
