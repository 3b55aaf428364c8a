"""Promotion of an approved model package to the environment's endpoint (Step Functions, JSONata).

Approved package (EventBridge) → describe it → [prod: wait for a person, task token] → create the model and an
endpoint config → create or update `<prefix>-endpoint` → wait until InService (bounded) → smoke-test it with real
rows → [instance mode: register target-tracking autoscaling] → copy its baseline and model to
`monitoring/current/` → [model-monitor backend: copy its Model Monitor baselines and write the Clarify analysis
configs under `monitoring/current/model-monitor/`] → record the package ARN in SSM → delete superseded endpoint
configs. Any failure after the endpoint changed rolls it back (the previous endpoint config, or deletes a first
endpoint); every failure marks the package Rejected with the reason. With the model-monitor backend, a package
without Model Monitor baselines is rejected before anything is deployed.
The endpoint and its configs exist only at run time: nothing here looks a model up at synth.

The modules, in the order an execution runs through them (each a `StateMachineFragment`):
`describe` → `approval` (prod) → `deploy` → `in_service` → `smoke_test` → `publish` → `retire`; and where
failures go: `rollback` (after the endpoint changed), then `rejection` (always). `construct` holds the
resources and composes the fragments; `permissions` what each role may do; `steps` what the fragments share.

The smoke test's code stays in `lambdas/smoke_test/`, not beside the construct: it is run-time code
(python3.12, standard library and boto3) packaged as its own Lambda asset, tested with the other handlers
(`tests/lambdas/`: behaviour and cold import) and run in-process by the local twin (`twin/promotion.py`);
keeping every deployed handler under `lambdas/` keeps synth-time CDK code and run-time code apart, and the
asset free of anything of `stacks/`. `smoke_test.SMOKE_TEST_CODE` points at it.
"""

from stacks.units.model_promotion.construct import ModelPromotion
from stacks.units.model_promotion.steps import PromotionSource, PromotionTargets, autoscaling_enabled

__all__ = ["ModelPromotion", "PromotionSource", "PromotionTargets", "autoscaling_enabled"]
