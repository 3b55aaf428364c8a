"""Preprocessing and the drift check on 1, 2 and 4 shards: what each shard costs, what the merge costs.

Not a test: it measures. The data are Adult rows replicated to ``--rows`` (default 10 M) in ``--objects`` files (8),
dealt round-robin to the shards as ShardedByS3Key deals objects to instances (symbolic links, no copies). Each
shard runs the step's own entry point with ``--shard-output`` in a child process of its own, one after the other
(this machine has 2 cores shared with other work: running them at once would measure the contention, not a
shard), and the merge runs after them: ``pipeline_code.merge preprocess`` (baseline, lineage, the raw test split)
and ``pipeline_code.drift --parts`` (every test, with the model: scores, quality, bias and attributions; the
reference is the 7,326-row validation split). Each figure is the child's wall time, CPU time and peak resident
memory (``bench_ml_steps.measure``). The estimated wall time on N instances is the slowest shard plus the merge,
without SageMaker's per-job start-up (a few minutes per job, the same for any N) and without the S3 transfers.

    python benchmarks/bench_scale_out.py                         # 10 M rows, 1/2/4 shards (~10 min here)
    python benchmarks/bench_scale_out.py --rows 2000000 --shards 1 2 4
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_ml_steps import adult_raw, measure, prepare, replicate_bytes  # noqa: E402  (needs the sys.path lines)

from pipeline_definition.local_runner.s3io import deal_files  # noqa: E402


def objects(work: Path, kind: str, body: bytes, header: bytes, rows_in_body: int, rows: int, count: int) -> Path:
    """``count`` objects of ``rows / count`` rows each (the same rows in each: the steps do not care)."""
    folder = work / f"{kind}-{rows}-x{count}"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        replicate_bytes(body, header, rows_in_body, rows // count, folder / f"part-{index:03d}.csv")
    return folder


def deal(source: Path, into: Path, shards: int) -> list[Path]:
    """ShardedByS3Key, as the local runner deals objects: links in each host's input folder."""
    shutil.rmtree(into, ignore_errors=True)
    return deal_files(source, into, shards, link=True)


def leg(command: list[str], host: str | None = None) -> dict[str, Any]:
    env_prefix = ["env", f"SM_CURRENT_HOST={host}", f"PYTHONPATH={REPO}"] if host else ["env", f"PYTHONPATH={REPO}"]
    result = measure([*env_prefix, *command])
    return {k: round(result[k], 2) for k in ("seconds", "cpu_seconds", "peak_rss_mb")}


def summary(shard_legs: list[dict[str, Any]], merge: dict[str, Any]) -> dict[str, Any]:
    slowest = max(shard_legs, key=lambda r: r["seconds"])
    return {
        "shards": shard_legs,
        "merge": merge,
        "slowest_shard_seconds": slowest["seconds"],
        "max_shard_peak_rss_mb": max(r["peak_rss_mb"] for r in shard_legs),
        "total_cpu_seconds": round(sum(r["cpu_seconds"] for r in shard_legs) + merge["cpu_seconds"], 2),
        "estimated_wall_seconds_on_n_instances": round(slowest["seconds"] + merge["seconds"], 2),
    }


def run(work: Path, rows: int, count: int, shard_counts: list[int]) -> dict[str, Any]:
    files = prepare(work, [])
    pre, model = files["pre"], files["model"]
    header, raw_body = adult_raw()
    raw = objects(work, "raw", raw_body, header, raw_body.count(b"\n"), rows, count)
    test_body = (pre / "test" / "test.csv").read_bytes()
    current = objects(work, "current", test_body, b"", test_body.count(b"\n"), rows, count)
    python = sys.executable
    results: dict[str, Any] = {"rows": rows, "objects": count, "preprocess": {}, "drift": {}}
    for shards in shard_counts:
        out = work / f"scale-{shards}"
        shutil.rmtree(out, ignore_errors=True)
        legs = []
        for folder in deal(raw, out / "raw-input", shards):
            cmd = [python, "-m", "pipeline_code.preprocess", "--input", str(folder), "--output", str(out / "pre")]
            legs.append(leg([*cmd, "--shard-output"], folder.name))
            print(f"preprocess shard {folder.name} of {shards}: {legs[-1]}", flush=True)
        merge = leg(
            [
                *(python, "-m", "pipeline_code.merge", "preprocess"),
                *("--manifest", str(out / "pre" / "manifest"), "--baseline", str(out / "pre" / "baseline")),
                *("--raw-test", str(out / "pre" / "raw_test"), "--output", str(out / "merged")),
            ]
        )
        print(f"preprocess merge of {shards}: {merge}", flush=True)
        results["preprocess"][shards] = summary(legs, merge)
        shutil.rmtree(out / "pre", ignore_errors=True)  # the splits: GBs at 10 M rows
        baseline = out / "merged" / "baseline" / "baseline.json"
        drift = [python, "-m", "pipeline_code.drift", "--baseline", str(baseline), "--model", str(model)]
        legs = []
        for folder in deal(current, out / "current-input", shards):
            cmd = [*drift, "--data", str(folder), "--output", str(out / "drift-parts"), "--shard-output"]
            legs.append(leg(cmd, folder.name))
            print(f"drift shard {folder.name} of {shards}: {legs[-1]}", flush=True)
        merged = [*drift, "--reference", str(pre / "validation"), "--parts", str(out / "drift-parts")]
        merge = leg([*merged, "--output", str(out / "drift")])
        part_bytes = sum(p.stat().st_size for p in (out / "drift-parts").rglob("*") if p.is_file())
        report = json.loads((out / "drift" / "drift_report.json").read_text())
        print(f"drift merge of {shards}: {merge}", flush=True)
        results["drift"][shards] = summary(legs, merge) | {
            "parts_mb": round(part_bytes / 1e6, 1),
            "violations": sorted(f"{v['check']} {v.get('feature', v.get('group', ''))}" for v in report["violations"]),
        }
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{results['rows']:,} rows in {results['objects']} objects",
        "step       | shards | slowest shard s | max shard RSS MB | merge s | merge RSS MB | total CPU s | est. wall s",
        "---------- | ------ | --------------- | ---------------- | ------- | ------------ | ----------- | -----------",
    ]
    for step in ("preprocess", "drift"):
        for shards, r in results[step].items():
            lines.append(
                f"{step:<10} | {shards:>6} | {r['slowest_shard_seconds']:>15} | {r['max_shard_peak_rss_mb']:>16} | "
                f"{r['merge']['seconds']:>7} | {r['merge']['peak_rss_mb']:>12} | {r['total_cpu_seconds']:>11} | "
                f"{r['estimated_wall_seconds_on_n_instances']:>11}"
            )
    verdicts = {shards: r["violations"] for shards, r in results["drift"].items()}
    same = len({json.dumps(v) for v in verdicts.values()}) == 1
    lines.append(f"drift verdicts identical across shard counts: {same} ({next(iter(verdicts.values()))})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--objects", type=int, default=8, help="input objects (a multiple of every shard count)")
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--work-dir", type=Path, default=REPO / "benchmarks" / ".data")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results = run(args.work_dir, args.rows, args.objects, args.shards)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
