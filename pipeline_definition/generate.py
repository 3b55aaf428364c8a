"""Write each environment's pipeline definition (and what the SDK staged) into pipeline_definition/generated/.

    python -m pipeline_definition.generate                 # every environment, only where stale
    python -m pipeline_definition.generate --force dev     # rebuild dev even if fresh
    python -m pipeline_definition.generate --out /tmp/x    # build into another folder (the freshness test)

`make pipeline-definitions` runs it, and `make synth` runs that first, so a newcomer never has to. The CDK app
itself never writes these committed files: it only checks them (`app.check_pipeline_definitions`) and stops on
a stale one with the command to run. Like the app, it reads the config named by MLOPS_CONFIG if set. The build is
offline: fake credentials, a real region, and a session that refuses every AWS call (see offline_session.py).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import sys
from pathlib import Path

from config import DEFAULT_CONFIG_PATH, EnvironmentConfig, load_config
from naming import EnvironmentNames
from pipeline_definition import botocore_data, contract, fingerprint, heap
from pipeline_definition.contract import STAGING_PREFIX


def _offline_environment(region: str) -> None:
    # The SDK creates boto3 clients at import time (sagemaker.ai_registry): they need a region and credentials,
    # never a network. Real credentials in the shell must not be used by accident either.
    os.environ.update(
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        AWS_ACCESS_KEY_ID="offline",
        AWS_SECRET_ACCESS_KEY="offline",
        AWS_EC2_METADATA_DISABLED="true",
        SAGEMAKER_VALIDATE_ROLE="false",
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def build_definitions(
    project_name: str, environment: EnvironmentConfig, staging_dir: Path
) -> tuple[dict[str, str], list[str]]:
    """Each pipeline's definition JSON (pretty, key-sorted) and the AWS calls the session refused building them."""
    from pipeline_definition.builders import BuildContext, builder_for  # the SDK: late

    # The SDK writes the training source dir's path into what it uploads (sourcecode.json): a relative path
    # under the repository keeps the staged bytes, and so the definition, the same on every machine.
    # That fixed path is shared: concurrent builds (a test beside a synth) take turns.
    scratch = contract.PACKAGE_DIR / ".build"
    previous = Path.cwd()
    lock = (contract.PACKAGE_DIR / ".build.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    names = EnvironmentNames(project_name, environment.name, dataset=environment.dataset)
    definitions: dict[str, str] = {}
    refused: list[str] = []
    try:
        os.chdir(contract.ROOT)
        with botocore_data.shared_loaders():  # the SDK's many sessions parse botocore's data files once
            for pipeline in contract.PIPELINES:  # all of them: CDK deploys monitoring only for the custom backend
                shutil.rmtree(scratch, ignore_errors=True)
                builder = builder_for(
                    pipeline,
                    BuildContext(
                        environment=environment,
                        names=names,
                        code_dir=contract.CODE_DIR,
                        staging_dir=staging_dir,
                        scratch_dir=scratch.relative_to(contract.ROOT),
                    ),
                )
                definition = builder.build().definition()
                definitions[pipeline] = json.dumps(json.loads(definition), indent=1, sort_keys=True) + "\n"
                refused += builder.session.refused_calls
    finally:
        os.chdir(previous)
        shutil.rmtree(scratch, ignore_errors=True)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    return definitions, refused


def generate(names: list[str], *, out: Path, force: bool, config_path: Path = DEFAULT_CONFIG_PATH) -> list[str]:
    """Build the named environments' definitions into `out`; return the names actually rebuilt."""
    config = load_config(config_path)
    environments = [config.environment(name) for name in names or list(config.environments)]
    _offline_environment(environments[0].region)
    in_place = out.resolve() == contract.GENERATED_DIR.resolve()
    rebuilt: list[str] = []
    for environment in environments:
        if in_place and not force and fingerprint.is_fresh(config.project_name, environment):
            continue
        os.environ.update(AWS_DEFAULT_REGION=environment.region, AWS_REGION=environment.region)
        definitions, refused = build_definitions(config.project_name, environment, out / "staging")
        for stale in out.glob(f"{environment.name}-*.json"):  # e.g. monitoring, after a switch to model-monitor
            stale.unlink()
        for pipeline, definition in definitions.items():
            (out / contract.definition_path(environment.name, pipeline).name).write_text(definition)
        (out / f"{environment.name}.fingerprint").write_text(
            fingerprint.definition_fingerprint(config.project_name, environment) + "\n"
        )
        rebuilt.append(environment.name)
        print(f"{environment.name}: built offline; AWS calls refused before sending: {len(refused)}")
    return rebuilt


def prune_staging(out: Path) -> None:
    """Remove staged uploads that no definition in `out` references any more (old SDK drivers)."""
    staging = out / "staging" / STAGING_PREFIX
    if not staging.is_dir():
        return
    referenced = set()
    for definition in out.glob("*.json"):
        referenced |= set(re.findall(rf"{STAGING_PREFIX}/([0-9a-f]{{16}})", definition.read_text()))
    for folder in staging.iterdir():
        if folder.name not in referenced:
            shutil.rmtree(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("environments", nargs="*", help="dev, staging, prod (default: all)")
    parser.add_argument("--out", type=Path, default=contract.GENERATED_DIR)
    parser.add_argument("--force", action="store_true", help="rebuild even when the fingerprint matches")
    parser.add_argument("--config", type=Path, default=Path(os.environ.get("MLOPS_CONFIG", DEFAULT_CONFIG_PATH)))
    args = parser.parse_args(argv)
    heap.long_lived()  # the SDK's objects: measured, full collections took 1.7 s of a 7 s build
    args.out.mkdir(parents=True, exist_ok=True)
    rebuilt = generate(args.environments, out=args.out, force=args.force, config_path=args.config)
    prune_staging(args.out)
    print(f"pipeline definitions rebuilt: {', '.join(rebuilt) or 'none (all fresh)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
