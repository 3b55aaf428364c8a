"""``pipeline_code.drift`` timed in-process for ``bench_ml_steps.py``: the work, without start-up and imports.

The whole-process figures of ``bench_ml_steps.py`` include the interpreter's start-up and the imports (numpy,
pyarrow, scipy: about half a second, the same whatever the row count). To compare the *work* with Evidently's
(``ml_evidently_drift.py`` times its own the same way), this imports the check first, then times ``drift.main``
from reading the CSV to the written report. Prints one JSON object on the last line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline_code import drift  # needs the sys.path line above


def main() -> int:
    started, cpu_started = time.perf_counter(), time.process_time()
    code = drift.main(sys.argv[1:])
    work = {"work_seconds": time.perf_counter() - started, "work_cpu_seconds": time.process_time() - cpu_started}
    print(json.dumps(work))
    return code


if __name__ == "__main__":
    sys.exit(main())
