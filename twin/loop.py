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
import shutil
import sys
import time
from pathlib import Path

from twin.timeline import Timeline, cpu_seconds

ENVIRONMENT = "dev"
# The twin's deliberate changes, printed with every run. A sample of the Adult data: the first 1,500 lines of each
# file (every feature record is one PutRecord call, so ingestion grows with it; the drift check's verdicts are
# sound at this size: a 1,000-row window of unshifted traffic raises none, a shifted one is flagged), and few
# training rounds. On that sample the model's lowest disparate impact is under dev's gate of 0.25 (met on the whole
# data set), so the gate is 0.15; the new-data trigger's threshold is scaled with the data (dev's 10,000 rows is a
# third of the whole data set) so that a sample file crosses it as a day's data would. The split is a hash of each
# record, not stratified by label: on the sample the test split's F1 lands a point either side of dev's gate of 0.6
# (met on the whole data set, F1 0.71), so the gate is 0.5.
SAMPLE_ROWS = 1500
PIPELINE_DEFAULTS = {"training": {"NumRound": 20, "MinDisparateImpact": 0.15, "MinF1": 0.5}}
FUNCTION_OVERRIDES = {"retrain-on-new-data": {"MIN_NEW_ROWS": "1000"}}


def run_loop(out: Path) -> Timeline:
    from config import load_config
    from twin import scenario
    from twin.assembly import ROOT, StageTemplates, synthesize
    from twin.aws import clients, moto_server, point_boto3_at
    from twin.moto_patches import enable_local_step_functions
    from twin.world import World

    if out.exists():
        shutil.rmtree(out)  # every run starts from nothing: no step cache, no state of an earlier run
    out.mkdir(parents=True)
    timeline = Timeline()
    config = load_config(ROOT / "config" / "environments.yaml")
    region, project = config.environment(ENVIRONMENT).region, config.project_name
    print(f"synthesizing the {ENVIRONMENT} stage into {out / 'cdk.out'} ...", flush=True)
    began, cpu = time.monotonic(), cpu_seconds()
    assembly = synthesize(ENVIRONMENT, out / "cdk.out")
    stage = StageTemplates(assembly, ENVIRONMENT, region=region)
    # jsii's node process is still running: its CPU time is not in the figure (`time` the whole run for it)
    print(f"synthesized in {time.monotonic() - began:.1f}s (cpu {cpu_seconds() - cpu:.1f}s, without node)")
    began, cpu = time.monotonic(), cpu_seconds()
    with moto_server() as url:
        point_boto3_at(url, region)
        world = World(
            stage=stage, project=project, environment=ENVIRONMENT, clients=clients(url, region), workdir=out,
            sample_rows=SAMPLE_ROWS,
        )  # fmt: skip
        enable_local_step_functions()
        world.setup(PIPELINE_DEFAULTS, FUNCTION_OVERRIDES)
        print(
            f"moto at {url}; twin overrides: first {SAMPLE_ROWS} lines of each Adult file, definitions "
            f"{PIPELINE_DEFAULTS}, functions {FUNCTION_OVERRIDES}; set up in {time.monotonic() - began:.1f}s "
            f"(cpu {cpu_seconds() - cpu:.1f}s)",
            flush=True,
        )
        scenario.run(world, timeline, assembly)
    timeline.write(out / "timeline.json")
    print(f"steps: {sum(e.seconds for e in timeline.entries):.1f}s (cpu {sum(e.cpu for e in timeline.entries):.1f}s)")
    return timeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("loop-run"), help="run folder (emptied first)")
    args = parser.parse_args(argv)
    timeline = run_loop(args.out)
    passed = sum(e.ok for e in timeline.entries)
    print(f"{passed}/{len(timeline.entries)} steps ok; timeline in {args.out / 'timeline.json'}")
    return 0 if timeline.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
