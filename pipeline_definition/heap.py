"""The garbage collector in the local processes that build a large heap and keep it: the test suite's processes,
the twin's loop and the definitions' build (`pipeline_definition.generate`).

They hold CDK's modules and jsii proxies, moto's backends, botocore's parsed models, the SageMaker SDK's objects,
parsed templates, the synthesized app. CPython's full collection walks all of it, and with the default thresholds
(700, 10, 10) one runs about every 70,000 net allocations. Measured: 23 full collections took 6.9 s of a 76 s test
subset (tests/stacks and the promotion executions, one process), 11 took 2.5 s of the loop's own process, 9 took
1.7 s of the 7 s definitions' build. Young objects are collected as before; only full collections are made rare.

- `long_lived()`, for the whole process:
  - a full collection after 1,000 collections of the middle generation instead of 10 (CPython also waits until a
    quarter of the long-lived objects are new). Cycles that reach the oldest generation wait longer to be freed: a
    cost in memory, not in answers;
  - at exit, the heap is moved out of the collector's sight (`gc.freeze`), so the interpreter's own collections
    while it shuts down skip it. Measured on a test process that ran tests/stacks, tests/contracts and the
    promotion executions: 2.3 s from its last exit handler to its end, 0.27 s with it. Objects are still freed as
    the modules go; cyclic garbage left at exit is not collected, which the operating system's cleanup makes moot.
- `settle()`: what exists now is moved out of the collector's sight (`gc.freeze`), after a collection; call it once
  the process has imported and built what it keeps.
"""

from __future__ import annotations

import atexit
import gc

FULL_COLLECTION_EVERY = 1000  # collections of the middle generation


def long_lived() -> None:
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    atexit.register(gc.freeze)


def settle() -> None:
    gc.collect()
    gc.freeze()
