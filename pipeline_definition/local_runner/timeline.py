"""A run as a readable timeline: one line per step, cache hits marked, the failure reason at the end."""

from __future__ import annotations

from pipeline_definition.local_runner.runner import RunResult

_MARK = {"Succeeded": "ok  ", "Failed": "FAIL", "Skipped": "skip", "Executing": "... "}


def format_timeline(result: RunResult) -> str:
    lines = [f"execution {result.execution_arn}"]
    for record in result.steps:
        cached = "cache hit" if record.cache_hit else ""
        detail = record.message if not record.cache_hit and record.message != "ran" else ""
        first = detail.splitlines()[0] if detail else ""
        lines.append(f"  {_MARK[record.status]} {record.name:<24} {record.type:<14} {record.seconds:6.1f} s  {cached:<9} {first}")
    if result.model_package_arn:
        lines.append(f"  model package: {result.model_package_arn}")
    lines.append(f"{result.status}" + (f": {result.failure_reason}" if result.failure_reason else ""))
    return "\n".join(lines)
