"""Warm starts for the local runner's Python jobs: one interpreter imports the heavy libraries once, then forks a
child per job, which enters its own mount namespace with the job folder on /opt/ml exactly as `sandbox.run` does.

Why: a job's own work on the twin's samples takes a fraction of a second, while a fresh interpreter spends ~1 s CPU
importing numpy, pandas, pyarrow, scipy, scikit-learn and xgboost (xgboost imports scikit-learn). A pipeline run has
six such jobs and `make loop` about thirty. A forked child starts with those modules already loaded and nothing
else: the step code (`pipeline_code`) is imported by the child from the job's own code folder, as in a container.

What a child sees is what `python3 -m <module> ...` or `python3 <script> ...` would see in the container: its argv,
the job's environment and nothing else, /opt/ml = the job folder (a private mount namespace: `unshare(2)`, then a
bind mount), the container working directory, stdout and stderr in the step's log files, and its exit status.
Anything else (a shell, another program, an interpreter given other options) is run by `sandbox.run` unchanged,
except that a `python3 -m module ...` the shell itself runs (the training images' driver script, `sm_train.sh`,
ends in one) is a warm job too: `python3` on the shell's PATH is a small shim that hands the command, with the
shell's environment and working directory at that moment, to the runner (`shell_jobs`), and exits with its status.
The differences that remain: botocore's data files were parsed before the fork (`botocore_data`: same answers); the
preloaded libraries were imported before the job's environment was set, so an import-time setting read from it (for
example `OMP_NUM_THREADS`) does not apply; `LOCAL_RUNNER_COLD_START=1` turns warm starts off when that matters.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]  # where `pipeline_definition` is, for the preload below
# Imported once by the warm interpreter: what the step code imports and is slow to import; `module:function` is
# also called. The last one parses the botocore data the steps' clients read (`botocore_data`): a client made by a
# forked job then costs ~0.05 s of CPU instead of ~0.2 s.
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.csv",
    "pyarrow.parquet",
    "scipy.stats",
    "sklearn.metrics",
    "xgboost",
    "matplotlib.pyplot",  # the evaluation's plots (~0.4 s)
    "boto3",
    "pipeline_definition.botocore_data:preload_for_jobs",
)

# The child: enter a mount namespace, mount the job folder on /opt/ml, redirect output, become the job.
_ZYGOTE = r"""
import ctypes, gc, importlib, json, os, runpy, select, sys, traceback

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
requests_fd, replies_fd, container_root, repository = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, repository)  # for the preloads of the runner's own modules; not on a job's path
for name in sys.argv[5:]:
    module, _, function = name.partition(":")
    try:
        loaded = importlib.import_module(module)
        if function:
            getattr(loaded, function)()
    except Exception:
        pass
sys.path.remove(repository)
gc.collect()
gc.freeze()  # the preloaded libraries: out of the collector's sight in every child (and not copied by it)
libc = ctypes.CDLL(None, use_errno=True)
base_path = list(sys.path)


def check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def enter(job):
    uid, gid = os.geteuid(), os.getegid()
    check(libc.unshare(CLONE_NEWNS | (CLONE_NEWUSER if uid != 0 else 0)), "unshare")
    if uid != 0:  # as `unshare --user --map-root-user`
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"0 {gid} 1")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    check(libc.mount(job["job_dir"].encode(), container_root.encode(), None, MS_BIND, None), "mount --bind")
    os.chdir(job["cwd"])


def child(job):
    mode = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if job.get("append") else os.O_TRUNC)
    out = os.open(job["stdout"], mode, 0o644)
    err = os.open(job["stderr"], mode, 0o644)
    os.dup2(out, 1)
    os.dup2(err, 2)
    try:
        enter(job)
        os.environ.clear()
        os.environ.update(job["env"])
        extra = [p for p in job["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        command = job["command"]
        if command[1] == "-m":
            sys.path[:] = [os.getcwd(), *extra, *base_path[1:]]
            sys.argv = [command[2], *command[3:]]
            runpy.run_module(command[2], run_name="__main__", alter_sys=True)
        else:
            script = os.path.abspath(command[1])
            sys.path[:] = [os.path.dirname(script), *extra, *base_path[1:]]
            sys.argv = [command[1], *command[2:]]
            runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass


replies = os.fdopen(replies_fd, "w", buffering=1)
running, pending, open_ = {}, b"", True
while open_ or running:
    # Raw reads, not a buffered readline: two requests that arrive together must not wait in a buffer that
    # select() cannot see.
    ready, _, _ = select.select([requests_fd] if open_ else [], [], [], 0.02 if running else None)
    if ready:
        chunk = os.read(requests_fd, 1 << 16)
        open_ = bool(chunk)
        pending += chunk
    while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os.close(requests_fd)
            replies.close()
            os._exit(child(job))
        running[pid] = job["id"]
        replies.write(json.dumps({"id": job["id"], "pid": pid}) + "\n")
    while running:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            break
        replies.write(json.dumps({"id": running.pop(pid), "status": os.waitstatus_to_exitcode(status)}) + "\n")
"""


class WarmStarter:
    """One warm interpreter (started on first use) and the jobs it has forked, by request id."""

    def __init__(self, container_root: str, preload: Sequence[str] = PRELOAD) -> None:
        requests_read, self._requests = os.pipe()
        self._replies, replies_write = os.pipe()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _ZYGOTE,
                str(requests_read),
                str(replies_write),
                container_root,
                str(REPOSITORY),
                *preload,
            ],
            pass_fds=(requests_read, replies_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(requests_read)
        os.close(replies_write)
        self._lock = threading.Lock()
        self._next = 0
        self._started: dict[int, Future[int]] = {}
        self._finished: dict[int, Future[int]] = {}
        threading.Thread(target=self._read_replies, daemon=True).start()

    def _read_replies(self) -> None:
        with os.fdopen(self._replies, "r") as replies:
            for line in replies:
                reply = json.loads(line)
                with self._lock:
                    if "pid" in reply:
                        self._started.pop(reply["id"]).set_result(reply["pid"])
                    else:
                        self._finished.pop(reply["id"]).set_result(reply["status"])
        with self._lock:  # the warm interpreter is gone: nothing pending will ever answer
            for future in [*self._started.values(), *self._finished.values()]:
                future.set_exception(RuntimeError("the warm job interpreter stopped"))
            self._started.clear()
            self._finished.clear()

    def run(
        self, command: list[str], *, job_dir: Path, cwd: str, env: dict[str, str], stdout: Path, stderr: Path,
        timeout: float, append: bool = False,
    ) -> int:  # fmt: skip
        """Fork the job, wait for it; its exit code. TimeoutError (the job killed) after `timeout` seconds.
        `append`: add to the log files instead of starting them (a job started from a job's shell)."""
        started: Future[int] = Future()
        finished: Future[int] = Future()
        with self._lock:
            self._next += 1
            job_id = self._next
            self._started[job_id], self._finished[job_id] = started, finished
            request = {"id": job_id, "command": command, "job_dir": str(job_dir), "cwd": cwd, "env": env,
                       "stdout": str(stdout), "stderr": str(stderr), "append": append}  # fmt: skip
            data = (json.dumps(request) + "\n").encode()
            while data:
                data = data[os.write(self._requests, data) :]
        pid = started.result(timeout=60)
        try:
            return finished.result(timeout=timeout)
        except TimeoutError:
            os.kill(pid, 9)
            raise

    @property
    def pid(self) -> int | None:
        """The warm interpreter's process id while it runs, else None."""
        return self._process.pid if self._process.poll() is None else None

    def close(self) -> None:
        os.close(self._requests)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


def warm_command(command: list[str]) -> bool:
    """`python3 -m module ...` or `python3 script.py ...`: what a warm interpreter can become."""
    if len(command) < 2 or command[0] not in ("python3", "python", sys.executable):  # python3 = this interpreter
        return False
    if command[1] == "-m":
        return len(command) >= 3 and not command[2].startswith("-")
    return not command[1].startswith("-") and command[1].endswith(".py")


_STARTER: list[WarmStarter] = []
_STARTER_LOCK = threading.Lock()


def enabled() -> bool:
    """Whether jobs start warm (`LOCAL_RUNNER_COLD_START=1` turns it off)."""
    return os.environ.get("LOCAL_RUNNER_COLD_START") != "1"


def starter(container_root: str) -> WarmStarter | None:
    """The process's warm interpreter (started on first use, stopped at exit); None when turned off."""
    if not enabled():
        return None
    with _STARTER_LOCK:
        if not _STARTER or _STARTER[0].pid is None:
            _STARTER[:] = [WarmStarter(container_root)]
            atexit.register(_STARTER[0].close)
        return _STARTER[0]


def cpu_seconds() -> float:
    """CPU time of the live warm interpreter and of the jobs it has forked and reaped (0 when none runs): a
    parent's RUSAGE_CHILDREN counts it only once it has exited."""
    pid = _STARTER[0].pid if _STARTER else None
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])  # fields 14-17 of proc(5), after the name
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------ `python3 -m` from a job's shell

#: Where the shim finds the job's socket (set in the environment of a job that runs a shell).
SOCKET_VARIABLE = "LOCAL_RUNNER_WARM_SOCKET"

# `python3` (and `python`) first on a shell job's PATH: `python3 -m module ...` becomes a warm job of the same
# folder, with the shell's environment and working directory at that moment; anything else is the interpreter.
_SHIM = """#!{python} -IS
import json, os, socket, sys
argv = sys.argv[1:]
where = os.environ.get("{variable}")
if not where or len(argv) < 2 or argv[0] != "-m" or argv[1].startswith("-"):
    os.execv("{python}", ["{python}", *argv])
connection = socket.socket(socket.AF_UNIX)
connection.connect(where)
env = {{k: v for k, v in os.environ.items() if k != "{variable}"}}
connection.sendall((json.dumps({{"command": ["python3", *argv], "cwd": os.getcwd(), "env": env}}) + "\\n").encode())
reply = connection.makefile().readline()
code = json.loads(reply)["code"] if reply else 1
sys.exit(128 - code if code < 0 else code)
"""

_SHIM_DIR: list[Path] = []


def shim_dir() -> Path:
    """A folder (one per process) holding the `python3` and `python` shims."""
    with _STARTER_LOCK:
        if not _SHIM_DIR:
            folder = Path(tempfile.mkdtemp(prefix="warm-shim-"))
            atexit.register(shutil.rmtree, folder, True)
            text = _SHIM.format(python=sys.executable, variable=SOCKET_VARIABLE)
            for name in ("python3", "python"):
                (folder / name).write_text(text)
                (folder / name).chmod(0o755)
            _SHIM_DIR.append(folder)
        return _SHIM_DIR[0]


@contextlib.contextmanager
def shell_jobs(
    container_root: str, *, job_dir: Path, env: dict[str, str], stdout: Path, stderr: Path, timeout: float
) -> Iterator[dict[str, str]]:
    """While a job runs a shell (a training container's driver script), serve its `python3 -m ...` as warm jobs
    of the same job folder, their output appended to its logs. Yields the environment to run the shell with.
    The warm interpreter is started by the first such command, not before: a shell that runs none costs nothing."""
    folder = Path(tempfile.mkdtemp(prefix="warm-"))  # short: a socket path has at most 107 bytes
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "socket"))
    listener.listen()

    def serve(connection: socket.socket) -> None:
        with connection, connection.makefile("rw") as stream:
            request = json.loads(stream.readline())
            try:
                warm = starter(container_root)
                if warm is None:
                    raise RuntimeError("warm starts were turned off while the job ran")
                code = warm.run(
                    request["command"], job_dir=job_dir, cwd=request["cwd"], env=request["env"], stdout=stdout,
                    stderr=stderr, timeout=timeout, append=True,
                )  # fmt: skip
            except Exception:  # a timeout (the job was killed) or the warm interpreter gone: a failed command
                code = 1
            stream.write(json.dumps({"code": code}) + "\n")
            stream.flush()

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the job has ended
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    path = os.pathsep.join([str(shim_dir()), env.get("PATH", "")])
    try:
        yield {**env, "PATH": path, SOCKET_VARIABLE: str(folder / "socket")}
    finally:
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)
