"""Warm wall time of `make synth` (all stages) against a bare one-stack CDK app, on this machine, in one run.

Usage: `make bench` or `.venv/bin/python benchmarks/bench_synth.py [--runs N]`. Prints figures; asserts nothing.
The bare app is timed twice: with CloudFormation's built-in validation off (as this project runs, the fair
floor) and with aws-cdk-lib's defaults (validation on), so the ratio can't flatter us by accident.
Targets (issue #2): all stages <= 3x the bare app, and < 6.2 s (half the drift-detection sample's 12.4 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
DRIFT_DETECTION_SAMPLE_SECONDS = 12.4  # measured on this kind of machine (issue #2)

BARE_APP = """
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App({app_args})
stack = cdk.Stack(app, "Bare")
s3.Bucket(stack, "Bucket")
app.synth()
"""

ENV = {
    **os.environ,
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "AWS_EC2_METADATA_DISABLED": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}


def timed(command: list[str], cwd: Path, runs: int) -> list[float]:
    subprocess.run(command, cwd=cwd, env=ENV, check=True, capture_output=True)  # warm-up (disk cache, pyc)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=ENV, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def bare_app(folder: Path, *, validation: bool) -> Path:
    folder.mkdir(parents=True)
    app_args = "" if validation else "builtin_cloud_formation_validation=False"
    (folder / "app.py").write_text(BARE_APP.format(app_args=app_args))
    (folder / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py", "notices": False}))
    return folder


def resource_count(outdir: Path) -> int:
    return sum(len(json.loads(t.read_text())["Resources"]) for t in outdir.glob("**/*.template.json"))


def describe(label: str, times: list[float]) -> float:
    median = statistics.median(times)
    print(f"{label:<46} median {median:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in times)})")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, cdk CLI at {CDK.relative_to(ROOT)}")
    ours = describe("make synth (dev + staging + prod)", timed(["make", "--silent", "synth"], ROOT, args.runs))
    resources = resource_count(ROOT / "cdk.out")
    stacks = len(list((ROOT / "cdk.out").glob("**/*.template.json")))
    with tempfile.TemporaryDirectory() as scratch:
        synth = [str(CDK), "synth", "--quiet"]
        bare = describe(
            "bare one-stack app (validation off)",
            timed(synth, bare_app(Path(scratch, "off"), validation=False), args.runs),
        )
        bare_default = describe(
            "bare one-stack app (aws-cdk-lib defaults)",
            timed(synth, bare_app(Path(scratch, "on"), validation=True), args.runs),
        )
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nours: {stacks} stacks, {resources} resources")
    print(f"ratio to the bare app (validation off): {ours / bare:.2f}x   (target <= 3x)")
    print(f"ratio to the bare app (defaults):       {ours / bare_default:.2f}x")
    print(
        f"share of the drift-detection sample's {DRIFT_DETECTION_SAMPLE_SECONDS} s: "
        f"{ours / DRIFT_DETECTION_SAMPLE_SECONDS:.0%}   (target < 50%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
