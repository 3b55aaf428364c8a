"""ML steps: validate, preprocess, feature records, train, evaluate, bias/explainability, drift.

Each step is a module of pure functions plus a ``main(argv)`` entry point that follows the SageMaker
container contract, so the same code runs in a SageMaker job, in ``pipeline_code.local_run`` and in tests.
"""
