"""`make loop`: the whole MLOps loop of the dev stage on this machine, as the platform's acceptance test.

Data lands -> the new-data trigger starts training -> a package is registered -> a person approves -> the
promotion deploys it -> monitoring finds nothing, then drift -> the drift trigger retrains on the recent labelled
window -> new data retrains with fresh inputs -> unchanged data hits the cache -> a code change retrains.

Everything runs against a local moto server with the names, Lambda environments and EventBridge patterns of the
synthesized dev stage, the committed pipeline definitions (executed by the local runner), the real handlers and
the release's code-change trigger. Each step is written to `<out>/timeline.json` with the evidence checked on
moto; a step that did not happen is `ok: false` and the exit status is 1.

    python -m twin.loop --out loop-run
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from twin.timeline import Timeline, cpu_seconds

ENVIRONMENT = "dev"
# The twin's deliberate changes, printed with every run. A sample of the Adult data: the first 1,500 lines of each
# file (every new feature record is one PutRecord call, so ingestion grows with it; the drift check's verdicts are
# sound at this size: a 1,000-row window of unshifted traffic raises none, a shifted one is flagged), and few
# training rounds. On that sample the model's lowest disparate impact is under dev's gate of 0.25 (met on the whole
# data set), so the gate is 0.15; the new-data trigger's threshold is scaled with the data (dev's 10,000 rows is a
# third of the whole data set) so that a sample file crosses it as a day's data would.
# A data set smaller than the sample (`--config` naming another `dataset`) lowers the threshold to its first file's
# rows, for the same reason. The split is a hash of each record, not stratified by label: on the sample the test
# split's F1 lands a point either side of dev's gate of 0.6 (met on the whole data set, F1 0.71), so the gate is 0.5.
SAMPLE_ROWS = 1500
PIPELINE_DEFAULTS = {"training": {"NumRound": 20, "MinDisparateImpact": 0.15, "MinF1": 0.5}}
MIN_NEW_ROWS = 1000


def _data_rows(path: Path, limit: int) -> int:
    """Data lines of a shipped file (header excluded), at most `limit` lines read."""
    import gzip

    with gzip.open(path, "rt") if path.suffix == ".gz" else path.open() as lines:
        return sum(1 for _, line in zip(range(limit), lines, strict=False) if line.strip()) - 1


def run_loop(
    out: Path, *, config_path: Path | None = None, until: str | None = None, assembly_dir: Path | None = None
) -> Timeline:
    from config import load_config
    from pipeline_definition import heap
    from twin import scenario
    from twin.assembly import ROOT, StageTemplates, synthesize
    from twin.aws import clients, moto_server, point_boto3_at
    from twin.moto_patches import enable_local_step_functions
    from twin.world import World

    if out.exists():
        shutil.rmtree(out)  # every run starts from nothing: no step cache, no state of an earlier run
    out.mkdir(parents=True)
    timeline = Timeline()
    config_path = config_path or ROOT / "config" / "environments.yaml"
    os.environ["MLOPS_CONFIG"] = str(config_path)  # what synthesize reads
    config = load_config(config_path)
    region, project = config.environment(ENVIRONMENT).region, config.project_name
    if assembly_dir is None:
        print(f"synthesizing the {ENVIRONMENT} stage into {out / 'cdk.out'} ...", flush=True)
        began, cpu = time.monotonic(), cpu_seconds()
        assembly = synthesize(ENVIRONMENT, out / "cdk.out")
        # jsii's node process is still running: its CPU time is not in the figure (`time` the whole run for it)
        print(f"synthesized in {time.monotonic() - began:.1f}s (cpu {cpu_seconds() - cpu:.1f}s, without node)")
    else:
        assembly = assembly_dir
        print(f"the {ENVIRONMENT} stage of the cloud assembly {assembly} (not synthesized again)", flush=True)
    stage = StageTemplates(assembly, ENVIRONMENT, region=region)
    began, cpu = time.monotonic(), cpu_seconds()
    with moto_server() as url:
        point_boto3_at(url, region)
        world = World(
            stage=stage, project=project, environment=ENVIRONMENT, clients=clients(url, region), workdir=out,
            sample_rows=SAMPLE_ROWS,
        )  # fmt: skip
        enable_local_step_functions()
        min_new_rows = min(MIN_NEW_ROWS, _data_rows(world.data_files[0], SAMPLE_ROWS))
        function_overrides = {"retrain-on-new-data": {"MIN_NEW_ROWS": str(min_new_rows)}}
        world.setup(PIPELINE_DEFAULTS, function_overrides)
        heap.settle()  # the stage, moto's backends, the loaded handlers: kept for the whole run
        print(
            f"moto at {url}; data set {stage.dataset}; twin overrides: first {SAMPLE_ROWS} lines of each data "
            f"file, definitions {PIPELINE_DEFAULTS}, functions {function_overrides}; set up in "
            f"{time.monotonic() - began:.1f}s "
            f"(cpu {cpu_seconds() - cpu:.1f}s)",
            flush=True,
        )
        scenario.run(world, timeline, assembly, until or scenario.PHASES[-1])
    timeline.write(out / "timeline.json")
    print(f"steps: {sum(e.seconds for e in timeline.entries):.1f}s (cpu {sum(e.cpu for e in timeline.entries):.1f}s)")
    return timeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("loop-run"), help="run folder (emptied first)")
    parser.add_argument("--config", type=Path, default=None, help="config file (default: config/environments.yaml)")
    parser.add_argument(
        "--until",
        default=None,
        help="stop after this phase: new-data, promotion, monitoring, drift-retrain, "
        "fresh-and-cached, code-change (default: the whole loop)",
    )
    parser.add_argument(
        "--assembly",
        type=Path,
        help="an app's synthesized cloud assembly (e.g. `make synth`'s cdk.out) to use instead of synthesizing "
        f"the {ENVIRONMENT} stage; it must be of the current code and config",
    )
    args = parser.parse_args(argv)
    from pipeline_definition import botocore_data, heap

    botocore_data.share_for_process()  # the twin's moto, handlers and clients: each service model parsed once
    heap.long_lived()  # `make loop` and its test also wait for this process to end
    timeline = run_loop(args.out, config_path=args.config, until=args.until, assembly_dir=args.assembly)
    passed = sum(e.ok for e in timeline.entries)
    print(f"{passed}/{len(timeline.entries)} steps ok; timeline in {args.out / 'timeline.json'}")
    return 0 if timeline.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
