"""Run a job's command with the job's folder at /opt/ml, as the container would see it.

Each job runs in a private mount namespace (`unshare`) where its folder is bind-mounted on /opt/ml, so the
absolute container paths in the definition (`/opt/ml/processing/input/...`) are exactly what the code sees, and two
jobs at once never see each other's files. Without unshare (or the right to use it) the job fails with that reason:
the runner never rewrites the paths the definition gives.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline_definition.local_runner import warm
from pipeline_definition.local_runner.errors import StepFailed

CONTAINER_ROOT = "/opt/ml"
_TAIL_LINES = 20

# mount the job folder ($1) on /opt/ml, then run the command (the rest) from the container folder $2
_SCRIPT = f'mount --bind "$1" {CONTAINER_ROOT} && cd "$2" && shift 2 && exec "$@"'


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: Path
    stderr: Path

    def tail(self) -> str:
        """The last lines of stderr (stdout if stderr is empty): what a failure reason should show."""
        for path in (self.stderr, self.stdout):
            lines = path.read_text(errors="replace").splitlines()
            if lines:
                return "\n".join(lines[-_TAIL_LINES:])
        return "(no output)"


def namespace_prefix() -> list[str]:
    """The unshare command for this user: root gets a plain mount namespace, others a user namespace too."""
    if shutil.which("unshare") is None:
        raise StepFailed("the local runner needs `unshare` (util-linux) to give each job its own /opt/ml")
    if not Path(CONTAINER_ROOT).is_dir():
        if os.geteuid() != 0:
            raise StepFailed(f"{CONTAINER_ROOT} does not exist and only root can create it: create it once")
        Path(CONTAINER_ROOT).mkdir(parents=True, exist_ok=True)
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--mount", "--propagation", "private", "--"]


def job_environment(declared: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """A clean environment as a container has: the definition's variables, `python3` resolving to this interpreter."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
    base = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    return {**base, **extra, **declared}


def run(
    command: list[str], *, job_dir: Path, logs: Path, env: dict[str, str], timeout: float, cwd: str = CONTAINER_ROOT
) -> Completed:
    """Run `command` from `cwd` with `job_dir` mounted on /opt/ml; stdout and stderr go to files under `logs`."""
    logs.mkdir(parents=True, exist_ok=True)
    result = Completed(returncode=-1, stdout=logs / "stdout.log", stderr=logs / "stderr.log")
    prefix = namespace_prefix()  # the same checks (and /opt/ml) for warm and cold starts
    warm_starter = warm.starter(CONTAINER_ROOT) if warm.warm_command(command) else None
    if warm_starter is not None:
        try:
            code = warm_starter.run(
                command, job_dir=job_dir.resolve(), cwd=cwd, env=env, stdout=result.stdout, stderr=result.stderr,
                timeout=timeout,
            )  # fmt: skip
        except TimeoutError as expired:
            raise StepFailed(f"stopped after MaxRuntimeInSeconds={timeout:g}") from expired
        return Completed(returncode=code, stdout=result.stdout, stderr=result.stderr)
    argv = [*prefix, "/bin/sh", "-c", _SCRIPT, "sh", str(job_dir.resolve()), cwd, *command]
    for log in (result.stdout, result.stderr):
        log.write_bytes(b"")
    # Appending: the `python3 -m` jobs a shell starts warm (warm.shell_jobs) write to the same files meanwhile.
    serving = (
        warm.shell_jobs(
            CONTAINER_ROOT,
            job_dir=job_dir.resolve(),
            env=env,
            stdout=result.stdout,
            stderr=result.stderr,
            timeout=timeout,
        )
        if warm.enabled()
        else contextlib.nullcontext(env)
    )
    with serving as job_env, result.stdout.open("ab") as out, result.stderr.open("ab") as err:
        try:
            process = subprocess.run(argv, stdout=out, stderr=err, env=job_env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as expired:
            raise StepFailed(f"stopped after MaxRuntimeInSeconds={timeout:g}") from expired
    return Completed(returncode=process.returncode, stdout=result.stdout, stderr=result.stderr)
