"""Wall and CPU time of the whole test suite (`make test`'s command), optionally paired against a git revision.

Usage: `make bench-suite` or `.venv/bin/python benchmarks/bench_suite.py [--runs N] [--baseline REV]`.
Prints figures; asserts nothing. Each run is `python -m pytest -n auto -q -p no:cacheprovider` in a child process;
its CPU is the operating system's accounting of that child and of every process it waited for (pytest-xdist's
workers, the loop's and the jobs' interpreters, the CDK's Node.js), read with `os.wait4`. With `--baseline`, the
revision is checked out in a temporary git worktree (sharing this checkout's .venv and node_modules) and the two
run in turn, A B A B ..., so the ratio of each pair is taken on the same machine state: quote the median ratio.
Target (issue #10): the whole suite under 90 s on a 2-core machine. Each run takes minutes: N=2 is ~10 min paired.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["-m", "pytest", "-n", "auto", "-q", "-p", "no:cacheprovider"]


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    summary: str


def run_suite(checkout: Path) -> Run:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}  # as `make test` runs it (the Makefile turns the cache on)
    with tempfile.TemporaryFile() as output:
        start = time.monotonic()
        child = subprocess.Popen(
            [str(checkout / ".venv" / "bin" / "python"), *COMMAND], cwd=checkout, env=env, stdout=output, stderr=output
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        lines = output.read().decode(errors="replace").splitlines()
    summary = next((line.strip("= ") for line in reversed(lines) if re.search(r"\d+ (passed|failed)", line)), "")
    if child.returncode != 0:
        summary += f" (exit {child.returncode})"
    return Run(wall, usage.ru_utime + usage.ru_stime, summary)


def _figures(name: str, runs: list[Run]) -> str:
    wall, cpu = statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs)
    return f"{name}: {wall:6.1f} s wall {cpu:6.1f} s CPU"


def baseline_checkout(revision: str, folder: Path) -> Path:
    checkout = folder / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", str(checkout), revision], cwd=ROOT, check=True)
    for shared in (".venv", "node_modules"):
        (checkout / shared).symlink_to(ROOT / shared)
    return checkout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--baseline", help="a git revision to run in turn with this checkout (e.g. HEAD~3)")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} cores; {args.runs} run(s) of: python {' '.join(COMMAND)}", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-suite-"))
    try:
        baseline = baseline_checkout(args.baseline, folder) if args.baseline else None
        ours: list[Run] = []
        theirs: list[Run] = []
        for index in range(args.runs):
            ours.append(run_suite(ROOT))
            print(f"run {index + 1}  {_figures('this checkout', [ours[-1]])}  {ours[-1].summary}", flush=True)
            if baseline is not None:
                theirs.append(run_suite(baseline))
                a, b = ours[-1], theirs[-1]
                ratio = f"ratio wall {a.wall / b.wall:.2f} CPU {a.cpu / b.cpu:.2f}"
                print(f"run {index + 1}  {_figures(args.baseline, [b])}  {b.summary}  {ratio}", flush=True)
        print(f"median  {_figures('this checkout', ours)}")
        if theirs:
            print(f"median  {_figures(args.baseline, theirs)}")
            wall = statistics.median([a.wall / b.wall for a, b in zip(ours, theirs, strict=True)])
            cpu = statistics.median([a.cpu / b.cpu for a, b in zip(ours, theirs, strict=True)])
            print(f"median ratio (this / {args.baseline}): wall {wall:.2f}, CPU {cpu:.2f}")
    finally:
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(folder / "baseline")], cwd=ROOT, check=False)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
