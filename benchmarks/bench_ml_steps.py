"""Speed and memory of preprocess and the drift check at 1 M and 10 M rows, against pandas and Evidently.

Not a test: it measures. The Adult rows are replicated into ``--work-dir`` (default ``benchmarks/.data/``, not
committed). Every leg runs in its own child process, started by a small wrapper that reports the child's wall
time, CPU time and peak resident memory (``getrusage(RUSAGE_CHILDREN)``), so no leg sees another's memory.
CPU time is reported because wall time on a shared 2-core machine depends on what else runs.

Legs: ``pipeline_code.preprocess`` on raw CSV; ``pyarrow.csv.read_csv`` of the processed file, with the
column types the drift check declares ("read typed") and with inferred types ("read"), the yardstick of the
drift check's CPU time; ``pipeline_code.drift`` (feature + label drift, no model) on processed CSV, unshifted
and shifted (age + 10 years, workclass re-weighted), and with ``--model`` (scores, quality, bias, attributions
on a 500-row sample; the reference is the 7,326-row validation split); the PSI/JS criteria in plain pandas
(``ml_pandas_drift.py``); Evidently 0.7.23's ``DataDriftPreset`` (``ml_evidently_drift.py``), run in its own
virtualenv ``.bench-venv-evidently/`` (created on first use: ~880 MB, it needs ``pandas<3``). ``--repeat N``
runs the read and drift legs N times, interleaved, and keeps the median of each figure: on a shared machine
one run of a multi-threaded reader can cost twice another.

    python benchmarks/bench_ml_steps.py                       # 1 M and 10 M rows, Evidently at 1 M only
    python benchmarks/bench_ml_steps.py --evidently-max-rows 10000000 --rows 1000000 10000000
    python benchmarks/bench_ml_steps.py --rows 10000000 --repeat 3 --evidently-max-rows 0 --skip-preprocess
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline_code import preprocess, schema, shifts, tabular, train  # noqa: E402  (needs the sys.path line)

EVIDENTLY_VENV = REPO / ".bench-venv-evidently"
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.23", "pandas<3"]
WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": time.perf_counter() - started, "returncode": done.returncode,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
                  "stdout": done.stdout[-20000:], "stderr": done.stderr[-2000:]}))
"""
READ = """
import sys
from pathlib import Path
import pyarrow.csv as csv
sys.path.insert(0, sys.argv[2])
from pipeline_code import tabular
path = Path(sys.argv[1])
if sys.argv[3] == "typed":
    names, types = tabular.processed_columns(path)
    options = dict(
        read_options=csv.ReadOptions(column_names=names), convert_options=csv.ConvertOptions(column_types=types)
    )
else:
    options = dict(read_options=csv.ReadOptions(autogenerate_column_names=True))
print(csv.read_csv(path, **options).num_rows)
"""


def measure(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` under the wrapper: wall time, exit code, peak RSS of that child alone, its output."""
    done = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    if result["returncode"] != 0:
        raise RuntimeError(f"{cmd} failed: {result['stderr']}")
    return result


def replicate_bytes(body: bytes, header: bytes, rows_in_body: int, rows: int, path: Path) -> Path:
    """Write ``rows`` rows by repeating ``body`` (whole lines), reusing the file if it is already there."""
    if path.exists():
        return path
    lines = body.splitlines(keepends=True)
    tmp = path.with_suffix(".partial")
    with tmp.open("wb") as f:
        f.write(header)
        full, rest = divmod(rows, rows_in_body)
        for _ in range(full):
            f.write(body)
        f.write(b"".join(lines[:rest]))
    tmp.replace(path)
    return path


def adult_raw() -> tuple[bytes, bytes]:
    """The raw CSV header and the data lines of both shipped Adult files (their own headers dropped)."""
    raw_lines = []
    for name in ("adult.data.gz", "adult.test.gz"):
        with tabular.pa.input_stream(str(REPO / "data" / "adult" / name)) as stream:
            raw_lines += stream.read().decode().splitlines()[1:]
    header = (", ".join(schema.RAW_COLUMNS) + "\n").encode()
    return header, ("\n".join(line for line in raw_lines if line.strip()) + "\n").encode()


def prepare(work: Path, sizes: list[int]) -> dict[str, Any]:
    """Adult preprocessed once (baseline, reference split), then raw and processed files of each size."""
    pre = work / "adult-pre"
    if not (pre / "baseline" / "baseline.json").exists():
        assert preprocess.main(["--input", str(REPO / "data" / "adult"), "--output", str(pre)]) == 0
    header, raw_body = adult_raw()
    n_raw = raw_body.count(b"\n")
    test = tabular.read_processed(pre / "test")
    shifted = shifts.category_reweight(shifts.numeric_shift(test, np.random.default_rng(1)), np.random.default_rng(2))
    shifted_path = work / "test-shifted.csv"
    if not shifted_path.exists():
        tabular.save_processed(shifted_path, shifted)
    test_body = (pre / "test" / "test.csv").read_bytes()
    model = work / "adult-model"
    if not (model / "xgboost-model.json").exists():
        argv = ["--train", str(pre / "train"), "--validation", str(pre / "validation"), "--model-dir", str(model)]
        assert train.main(argv) == 0
    files: dict[str, Any] = {"pre": pre, "model": model}
    for n in sizes:
        files[f"raw-{n}"] = replicate_bytes(raw_body, header, n_raw, n, work / f"raw-{n}.csv")
        files[f"current-{n}"] = replicate_bytes(test_body, b"", test.label.size, n, work / f"current-{n}.csv")
        files[f"shifted-{n}"] = replicate_bytes(
            shifted_path.read_bytes(), b"", test.label.size, n, work / f"shifted-{n}.csv"
        )
    return files


def ensure_evidently() -> Path:
    """The Evidently virtualenv's python, created on first use."""
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_REQUIREMENTS], check=True)
    return python


def ours_verdicts(out: Path) -> dict[str, bool]:
    report = json.loads((out / "drift_report.json").read_text())
    return {name: f["drift"] for name, f in report["features"].items()}


def median_leg(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over repeated runs (the other fields from the first run)."""
    keys = ("seconds", "cpu_seconds", "peak_rss_mb")
    return {**runs[0], **{k: float(np.median([r[k] for r in runs])) for k in keys}, "repeats": len(runs)}


def median_work(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The in-process work figures a leg printed as JSON on its last line, median over the runs."""
    works = [json.loads(r["stdout"].strip().splitlines()[-1]) for r in runs]
    return {k: float(np.median([w[k] for w in works])) for k in ("work_seconds", "work_cpu_seconds")}


def drift_command(files: dict[str, Any], data: Path, out: Path, model: bool) -> list[str]:
    pre = files["pre"]
    cmd = [sys.executable, "-m", "pipeline_code.drift", "--baseline", str(pre / "baseline" / "baseline.json")]
    cmd += ["--data", str(data), "--output", str(out)]
    if model:
        cmd += ["--model", str(files["model"]), "--reference", str(pre / "validation")]
    return cmd


def run(work: Path, sizes: list[int], evidently_max_rows: int, repeat: int, skip_preprocess: bool) -> dict[str, Any]:
    files = prepare(work, sizes)
    pre = files["pre"]
    reference = pre / "train" / "train.csv"
    results: dict[str, Any] = {}
    for n in sizes:
        if not skip_preprocess:
            cmd = [sys.executable, "-m", "pipeline_code.preprocess", "--input", str(files[f"raw-{n}"])]
            results[f"preprocess {n}"] = {"rows": n, **measure([*cmd, "--output", str(work / f"pre-{n}")])}
        legs: dict[str, list[str]] = {
            f"read typed {n}": [sys.executable, "-c", READ, str(files[f"current-{n}"]), str(REPO), "typed"],
            f"read {n}": [sys.executable, "-c", READ, str(files[f"current-{n}"]), str(REPO), "inferred"],
            f"drift current {n}": drift_command(files, files[f"current-{n}"], work / f"drift-current-{n}", False),
            f"drift shifted {n}": drift_command(files, files[f"shifted-{n}"], work / f"drift-shifted-{n}", False),
            f"drift model {n}": drift_command(files, files[f"current-{n}"], work / f"drift-model-{n}", True),
        }
        if n <= evidently_max_rows:  # the work alone (no start-up, no imports), as Evidently's leg reports it
            inproc = drift_command(files, files[f"current-{n}"], work / f"drift-inproc-{n}", False)
            script = str(REPO / "benchmarks" / "ml_ours_drift.py")
            legs[f"drift-inproc current {n}"] = [sys.executable, script, *inproc[3:]]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in legs}
        for _ in range(repeat):  # interleaved, so that load from other work hits every leg alike
            for name, cmd in legs.items():
                runs[name].append(measure(cmd))
        for name, measured in runs.items():
            results[name] = {"rows": n, **median_leg(measured)}
            if name.startswith("drift-inproc"):
                results[name].update(median_work(measured))
                continue
            if name.startswith("drift"):
                kind = name.split()[1]
                results[name]["verdicts"] = ours_verdicts(work / f"drift-{kind}-{n}")
        for kind in ("current", "shifted"):
            data = files[f"{kind}-{n}"]
            leg = measure(
                [
                    sys.executable,
                    str(REPO / "benchmarks" / "ml_pandas_drift.py"),
                    "--reference",
                    str(reference),
                    "--current",
                    str(data),
                ]
            )
            verdicts = {k: v["drift"] for k, v in json.loads(leg["stdout"])["features"].items()}
            results[f"pandas {kind} {n}"] = {"rows": n, **leg, "verdicts": verdicts}
            if n <= evidently_max_rows:
                leg = measure(
                    [
                        str(ensure_evidently()),
                        str(REPO / "benchmarks" / "ml_evidently_drift.py"),
                        "--reference",
                        str(reference),
                        "--current",
                        str(data),
                    ]
                )
                out_json = json.loads(leg["stdout"].strip().splitlines()[-1])
                verdicts = {k: v["drift"] for k, v in out_json["features"].items()}
                methods = {k: v["method"] for k, v in out_json["features"].items()}
                results[f"evidently {kind} {n}"] = {
                    "rows": n,
                    **leg,
                    "verdicts": verdicts,
                    "methods": methods,
                    "work_seconds": out_json["work_seconds"],
                    "work_cpu_seconds": out_json["work_cpu_seconds"],
                }
    return results


def ratios(results: dict[str, Any]) -> str:
    """The figures the issue sets limits on: drift CPU against reading the same file, and against Evidently."""
    lines = []
    for name, r in results.items():
        tool, *rest = name.split()
        n = rest[-1]
        if tool == "drift" and (read := results.get(f"read typed {n}")):
            plain = results[f"read {n}"]
            lines.append(
                f"- {name}: CPU {r['cpu_seconds']:.2f} s = {r['cpu_seconds'] / read['cpu_seconds']:.2f}x read typed "
                f"({read['cpu_seconds']:.2f} s), {r['cpu_seconds'] / plain['cpu_seconds']:.2f}x read "
                f"({plain['cpu_seconds']:.2f} s); wall {r['seconds']:.2f} s; peak {r['peak_rss_mb']:,.0f} MiB"
            )
        if tool == "evidently" and (ours := results.get(f"drift {' '.join(rest)}")):
            lines.append(f"- {name}: {r['seconds'] / ours['seconds']:.0f}x our wall time, "
                         f"{r['cpu_seconds'] / ours['cpu_seconds']:.0f}x our CPU time (whole processes)")  # fmt: skip
            if work := results.get(f"drift-inproc {' '.join(rest)}"):
                lines.append(
                    f"- {name}, the work alone (read to report, after start-up and imports): "
                    f"{r['work_seconds']:.2f} s against our {work['work_seconds']:.2f} s = "
                    f"{r['work_seconds'] / work['work_seconds']:.0f}x by wall time, "
                    f"{r['work_cpu_seconds'] / work['work_cpu_seconds']:.0f}x by CPU "
                    f"({r['work_cpu_seconds']:.2f} s against {work['work_cpu_seconds']:.2f} s)"
                )
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    """Markdown table of the figures plus verdict agreement with our drift check on the same data."""
    lines = [
        "| leg | rows | seconds | rows/s | CPU s | peak RSS MiB | time vs ours | drifted features | same verdicts |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name, r in results.items():
        tool, *rest = name.split()
        ours = results.get(f"drift {' '.join(rest)}") if tool in ("pandas", "evidently") else None
        if tool in ("read", "drift-inproc"):
            ours = None
        drifted = sorted(k for k, v in r.get("verdicts", {}).items() if v)
        ratio = f"{r['seconds'] / ours['seconds']:.1f}x" if ours else ""
        if ours:
            differ = sorted(k for k in r["verdicts"] if r["verdicts"][k] != ours["verdicts"][k])
            agree = "yes" if not differ else f"no: {', '.join(differ)}"
        else:
            agree = ""
        lines.append(
            f"| {name} | {r['rows']:,} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} | "
            f"{r['cpu_seconds']:.1f} | "
            f"{r['peak_rss_mb']:,.0f} | {ratio} | {', '.join(drifted) if 'verdicts' in r else ''} | "
            f"{agree} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--work-dir", default=str(REPO / "benchmarks" / ".data"))
    parser.add_argument("--evidently-max-rows", type=int, default=1_000_000, help="0 skips Evidently")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each read and drift leg (median kept)")
    parser.add_argument("--skip-preprocess", action="store_true", help="leave out the preprocess legs")
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    results = run(work, args.rows, args.evidently_max_rows, args.repeat, args.skip_preprocess)
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    print()
    print(ratios(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
