"""The model's inference handlers on raw records: latency per request, one record and 1,000 records, CSV and JSON.

    .venv/bin/python benchmarks/bench_serving.py [--model-dir local-run/model] [--requests 2000] [--batches 200]

What is timed is what SageMaker's XGBoost container runs per request in script mode, in this process, once its
`model_fn` has loaded the model: `input_fn` → `predict_fn` → `output_fn` of `pipeline_code.serve` (`serve.invoke`),
on raw rows of the shipped test
file (`data/adult/adult.test.gz`, each request other rows). Not timed: the model server's HTTP handling and the
network, which SageMaker's `ModelLatency` metric does not count either (it is the container's time; the
`OverheadLatency` of SageMaker comes on top). The model is a local run's (`--model-dir`), or one trained here
first: preprocess + train on `data/adult` with the default hyper-parameters (136 trees of depth 6).

Printed per case: p50, p99 and max over `--requests` single-record requests (after 200 warm-up ones) and over
`--batches` 1,000-record requests (after 10), with the share of the time spent encoding (`features.Encoder`)
versus scoring (XGBoost), and the machine's load average, since on a shared machine the tail is the scheduler's.
Targets: p99 under 10 ms for one record and under 50 ms for 1,000. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline_code import preprocess, serve, train  # noqa: E402

TARGETS_MS = {1: 10.0, 1000: 50.0}


def trained_model(scratch: Path) -> Path:
    """A model as the training pipeline makes it (manifest and handlers packed), from the shipped data."""
    data, model = scratch / "preprocess", scratch / "model"
    assert preprocess.main(["--input", str(ROOT / "data" / "adult"), "--output", str(data)]) == 0
    arguments = ["--train", str(data / "train"), "--validation", str(data / "validation")]
    assert train.main([*arguments, "--manifest", str(data / "manifest"), "--model-dir", str(model)]) == 0
    return model


def raw_rows() -> list[str]:
    """The shipped test file's data lines (the label stripped: what a client sends)."""
    lines = gzip.decompress((ROOT / "data" / "adult" / "adult.test.gz").read_bytes()).decode().splitlines()[1:]
    return [line.rsplit(",", 1)[0] for line in lines if line.strip()]


def as_json(lines: list[str], manifest: serve.features.FeatureManifest) -> str:
    instances = []
    for line in lines:
        values = [v.strip() for v in line.split(",")]
        instances.append(
            {
                f.raw_name: None if v == "?" else (v if f.categorical else int(v))
                for f, v in zip(manifest.features, values, strict=True)
            }
        )
    return json.dumps({"instances": instances})


def timed(call: Callable[[], object], runs: int, warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds per call: wall clock, and CPU time of this thread (what the handlers cost, whatever else the
    machine runs: on a busy shared machine the wall clock's tail is the scheduler's, not the code's)."""
    for _ in range(warmup):
        call()
    wall, cpu = np.empty(runs), np.empty(runs)
    for i in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        call()
        wall[i], cpu[i] = time.perf_counter() - started, time.thread_time() - started_cpu
    return wall * 1000, cpu * 1000


def split(model: serve.ServedModel, body: str, content_type: str) -> tuple[float, float]:
    """Milliseconds spent reading and encoding the request, and scoring it (one run)."""
    started = time.perf_counter()
    _, encoded = serve.encode(serve.input_fn(body, content_type), model.encoder)
    encoded_at = time.perf_counter()
    train.predict_proba(model.booster, encoded.matrix, nthread=1)
    return (encoded_at - started) * 1000, (time.perf_counter() - encoded_at) * 1000


def report(name: str, records: int, wall: np.ndarray, cpu: np.ndarray, parts: list[tuple[float, float]]) -> str:
    p50, p99 = np.percentile(wall, [50, 99])
    c50, c99 = np.percentile(cpu, [50, 99])
    encode, score = np.median([p[0] for p in parts]), np.median([p[1] for p in parts])
    verdict = "meets" if p99 < TARGETS_MS[records] else "MISSES"
    return (
        f"{name:<32} wall p50 {p50:6.2f} p99 {p99:6.2f} max {wall.max():7.2f} ms | cpu p50 {c50:6.2f} "
        f"p99 {c99:6.2f} ms | median encode {encode:.2f}, score {score:.2f} ms | wall p99 {verdict} "
        f"< {TARGETS_MS[records]:g} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a packaged model folder (default: train one first)")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--requests", type=int, default=2000, help="single-record requests per case")
    parser.add_argument("--batches", type=int, default=200, help="1,000-record requests per case")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or trained_model(Path(scratch))
        os.environ[serve.THRESHOLD_ENV] = repr(args.threshold)
        model = serve.model_fn(str(model_dir))  # as the container loads it
    rows = raw_rows()
    manifest = model.manifest
    print(f"model: {model.booster.num_boosted_rounds()} trees; {len(rows)} raw rows of adult.test")
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPU(s)")

    cases = []
    for content_type in (serve.CSV, serve.JSON):
        kind = "CSV" if content_type == serve.CSV else "JSON"
        singles = [r if content_type == serve.CSV else as_json([r], manifest) for r in rows[: args.requests]]
        batches = [rows[start : start + 1000] for start in range(0, len(rows) - 999, 1000)]
        bodies = ["\n".join(b) if content_type == serve.CSV else as_json(b, manifest) for b in batches]
        for records, requests, runs, warmup in ((1, singles, args.requests, 200), (1000, bodies, args.batches, 10)):
            source = itertools.cycle(requests)  # each request other rows

            def call(source: Iterator[str] = source, content_type: str = content_type) -> object:
                return serve.invoke(model, next(source), content_type, serve.JSON)

            wall, cpu = timed(call, runs, warmup)
            parts = [split(model, requests[i % len(requests)], content_type) for i in range(min(runs, 50))]
            cases.append(report(f"{records:>5} record(s), {kind} in, JSON out", records, wall, cpu, parts))
            print(cases[-1], flush=True)
    print(f"load average after:  {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
