"""A job sees what its container would see, whether it starts cold (`unshare` + exec) or warm (a forked, preloaded
interpreter): /opt/ml is its own folder, the working directory the definition gives, only its environment, its
argv, and its exit status; two jobs at once never see each other's files."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from pipeline_definition.local_runner import sandbox, warm
from pipeline_definition.local_runner.errors import StepFailed

# A job that reports what it sees; its own module, imported from the job's code folder (sys.path[0] = cwd).
PROBE = """
import json, os, sys, time
seen = {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": sorted(os.environ), "tag": os.environ.get("TAG"),
        "files": sorted(os.listdir("/opt/ml/input")), "module": __file__, "parent": os.getppid()}
with open("/opt/ml/output/seen.json", "w") as handle:
    json.dump(seen, handle)
print("done", sys.argv[1:])
time.sleep(float(os.environ.get("SLEEP", "0")))
sys.exit(int(os.environ.get("EXIT", "0")))
"""


def _job(root: Path, name: str) -> Path:
    job = root / name
    (job / "input").mkdir(parents=True)
    (job / "input" / f"{name}.csv").write_text("x\n")
    (job / "output").mkdir()
    (job / "code" / "probe_pkg").mkdir(parents=True)
    (job / "code" / "probe_pkg" / "__init__.py").write_text("")
    (job / "code" / "probe_pkg" / "probe.py").write_text(PROBE)
    return job


def _run(job: Path, command: list[str], **env: str) -> sandbox.Completed:
    environment = sandbox.job_environment({"TAG": job.name, **env}, {})
    return sandbox.run(command, job_dir=job, logs=job.parent / f"{job.name}-logs", env=environment, timeout=30,
                       cwd="/opt/ml/code")  # fmt: skip


@pytest.mark.parametrize("cold", ["0", "1"], ids=["warm", "cold"])
def test_a_job_sees_its_own_container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cold: str) -> None:
    monkeypatch.setenv("LOCAL_RUNNER_COLD_START", cold)
    monkeypatch.setenv("LEAKED_FROM_THE_RUNNER", "1")
    job = _job(tmp_path, "a")
    done = _run(job, ["python3", "-m", "probe_pkg.probe", "--flag", "value"], EXIT="3")
    assert done.returncode == 3
    seen = json.loads((job / "output" / "seen.json").read_text())
    assert seen["argv"] == ["--flag", "value"]
    assert seen["cwd"] == "/opt/ml/code"
    assert seen["files"] == ["a.csv"]
    assert seen["tag"] == "a"
    assert "LEAKED_FROM_THE_RUNNER" not in seen["env"]
    assert seen["module"] == "/opt/ml/code/probe_pkg/probe.py"  # the job's copy of the code, not another
    assert done.stdout.read_text().strip() == "done ['--flag', 'value']"


def test_python_m_from_a_jobs_shell_runs_warm_with_the_shells_environment_and_output_in_order(tmp_path: Path) -> None:
    """A training container's driver is a shell script that ends in `python3 -m <module>` (the SDK's sm_train.sh):
    that command is a warm job of the same folder, seeing what the shell had set, its output between the shell's."""
    job = _job(tmp_path, "shell")
    script = (
        "echo before; cd /opt/ml/code && export TAG=from-the-shell EXIT=3; "
        'python3 -m probe_pkg.probe arg; echo "status $?"; python3 --version'
    )
    done = _run(job, ["/bin/sh", "-c", script])
    assert done.returncode == 0, done.tail()
    seen = json.loads((job / "output" / "seen.json").read_text())
    assert seen["parent"] == warm.starter(sandbox.CONTAINER_ROOT).pid  # forked by the warm interpreter
    assert (seen["argv"], seen["tag"], seen["cwd"]) == (["arg"], "from-the-shell", "/opt/ml/code")
    assert warm.SOCKET_VARIABLE not in seen["env"]
    lines = done.stdout.read_text().splitlines()
    assert lines[:3] == ["before", "done ['arg']", "status 3"]
    assert lines[3].startswith("Python 3.")  # anything but `-m` is the interpreter itself


def test_a_script_path_runs_as_python_would_run_it(tmp_path: Path) -> None:
    job = _job(tmp_path, "s")
    done = _run(job, ["python3", "probe_pkg/probe.py", "x"])
    assert done.returncode == 0, done.tail()
    assert json.loads((job / "output" / "seen.json").read_text())["argv"] == ["x"]


def test_two_warm_jobs_at_once_see_only_their_own_files(tmp_path: Path) -> None:
    jobs = [_job(tmp_path, name) for name in ("one", "two")]
    results: dict[str, int] = {}

    def run(job: Path) -> None:
        results[job.name] = _run(job, ["python3", "-m", "probe_pkg.probe"], SLEEP="0.3").returncode

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"one": 0, "two": 0}
    for job in jobs:
        assert json.loads((job / "output" / "seen.json").read_text())["files"] == [f"{job.name}.csv"]


def test_requests_that_arrive_together_all_start(tmp_path: Path) -> None:
    """Several jobs submitted at the same moment: each starts (none waits unseen behind another's request)."""
    jobs = [_job(tmp_path, f"j{i}") for i in range(6)]
    barrier = threading.Barrier(len(jobs))
    results: dict[str, int] = {}

    def run(job: Path) -> None:
        barrier.wait()
        results[job.name] = _run(job, ["python3", "-m", "probe_pkg.probe"]).returncode

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=50)
    assert results == {job.name: 0 for job in jobs}


def test_a_failing_warm_job_reports_its_traceback_and_a_slow_one_is_stopped(tmp_path: Path) -> None:
    job = _job(tmp_path, "f")
    (job / "code" / "probe_pkg" / "broken.py").write_text("raise RuntimeError('bad input: column age missing')\n")
    done = _run(job, ["python3", "-m", "probe_pkg.broken"])
    assert done.returncode == 1
    assert "RuntimeError: bad input: column age missing" in done.tail()
    environment = sandbox.job_environment({"SLEEP": "30"}, {})
    with pytest.raises(StepFailed, match="MaxRuntimeInSeconds=1"):
        sandbox.run(["python3", "-m", "probe_pkg.probe"], job_dir=job, logs=tmp_path / "slow", env=environment,
                    timeout=1, cwd="/opt/ml/code")  # fmt: skip


@pytest.mark.parametrize(
    ("command", "warm_start"),
    [
        (["python3", "-m", "pipeline_code.drift"], True),
        (["python3", "pipeline_code/train.py", "--eta", "0.1"], True),
        ([sys.executable, "-m", "pipeline_code.drift"], True),
        (["python3", "-u", "-m", "pipeline_code.drift"], False),  # interpreter options: a real interpreter
        (["/usr/bin/python3", "-m", "pipeline_code.drift"], False),  # another interpreter than the job's python3
        (["/bin/bash", "-c", "python3 -m pipeline_code.drift"], False),
        (["python3"], False),
    ],
)
def test_only_plain_python_commands_start_warm(command: list[str], warm_start: bool) -> None:
    assert warm.warm_command(command) is warm_start
