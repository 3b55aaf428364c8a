"""The loop's timeline: one entry per step, in order, printed as it happens and written as JSON."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO


class StepError(RuntimeError):
    """A step did not happen; the message says what was missing (it becomes the step's evidence)."""


def cpu_seconds() -> float:
    """CPU time of this process (the loop, moto's server threads, the in-process handlers), of its finished
    children and of the warm job interpreter with the jobs it forked (the pipeline steps' jobs): on a shared
    machine, the figure that does not depend on the load."""
    from pipeline_definition.local_runner import warm

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime + warm.cpu_seconds()


@dataclass
class Entry:
    step: str
    ok: bool
    evidence: str
    seconds: float = 0.0
    cpu: float = 0.0


@dataclass
class Timeline:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    entries: list[Entry] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Run one step: the body appends its evidence (checked on moto) to the yielded list, or raises.

        A step whose body raises, or that gives no evidence, is written with ok=false: nothing is ok unproven.
        """
        evidence: list[str] = []
        began, cpu = time.monotonic(), cpu_seconds()
        try:
            yield evidence
            ok = bool(evidence)
            text = "; ".join(evidence) if evidence else "no evidence was recorded"
        except Exception as error:
            ok, text = False, f"{type(error).__name__}: {error}"
        entry = Entry(name, ok, text, round(time.monotonic() - began, 2), round(cpu_seconds() - cpu, 2))
        self.entries.append(entry)
        self._print(entry)

    def skip(self, name: str, reason: str) -> None:
        entry = Entry(name, False, f"did not run: {reason}")
        self.entries.append(entry)
        self._print(entry)

    def ok(self, name: str) -> bool:
        return any(e.step == name and e.ok for e in self.entries)

    @property
    def all_ok(self) -> bool:
        return bool(self.entries) and all(e.ok for e in self.entries)

    def write(self, path: Path) -> None:
        path.write_text(
            json.dumps(
                [{k: v for k, v in asdict(e).items() if k not in ("seconds", "cpu")} for e in self.entries], indent=2
            )
            + "\n"
        )

    def _print(self, entry: Entry) -> None:
        clock = time.monotonic() - self.started
        mark = "ok  " if entry.ok else "FAIL"
        print(
            f"[{clock:6.1f}s] {mark} {entry.step:<34} ({entry.seconds:.1f}s, cpu {entry.cpu:.1f}s) {entry.evidence}",
            file=self.out,
        )
        self.out.flush()
