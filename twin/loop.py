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
from pathlib import Path

from twin.timeline import Timeline

ENVIRONMENT = "dev"
# The twin's one change to a committed definition: training rounds, so a run takes seconds, not minutes.
TRAINING_DEFAULTS = {"training": {"NumRound": 20}}


def run_loop(out: Path) -> Timeline:
    from config import load_config
    from twin import scenario
    from twin.assembly import ROOT, StageTemplates, synthesize
    from twin.aws import clients, moto_server, point_boto3_at
    from twin.world import World

    if out.exists():
        shutil.rmtree(out)  # every run starts from nothing: no step cache, no state of an earlier run
    out.mkdir(parents=True)
    timeline = Timeline()
    region = load_config(ROOT / "config" / "environments.yaml").environment(ENVIRONMENT).region
    print(f"synthesizing the {ENVIRONMENT} stage into {out / 'cdk.out'} ...", flush=True)
    assembly = synthesize(ENVIRONMENT, out / "cdk.out")
    stage = StageTemplates(assembly, ENVIRONMENT, region=region)
    with moto_server() as url:
        point_boto3_at(url, region)
        world = World(stage=stage, environment=ENVIRONMENT, clients=clients(url, region), workdir=out)
        _enable_step_functions()
        world.setup(TRAINING_DEFAULTS)
        print(f"moto at {url}; twin overrides: {TRAINING_DEFAULTS}", flush=True)
        scenario.run(world, timeline, assembly)
    timeline.write(out / "timeline.json")
    return timeline


def _enable_step_functions() -> None:
    """The promotion engineer's moto patches (twin.moto_patches), when that branch is merged."""
    try:
        from twin.moto_patches import enable_local_step_functions
    except ImportError:
        return
    enable_local_step_functions()


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
