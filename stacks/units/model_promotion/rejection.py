"""Rejection: where every failure ends. Clean up after the run, mark the package Rejected with the reason, tell
the team, fail the execution.

BaselinesPublished: once CopyBaseline succeeded, `monitoring/current/` goes back to the live package's files
(ReadLivePackage → DescribeLivePackage → RestoreBaseline → RestoreModel [→ its Model Monitor baselines]), or
is emptied after a first deploy (UnpublishBaselines). NewModelUnused: this run's model and endpoint config are
deleted unless the endpoint may still use them. Then RejectPackage → NotifyFailure → PromotionFailed.
Clean-up failures add to the reason; they never stop the rejection.
"""

from __future__ import annotations

import json

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.units.model_promotion.steps import PACKAGE_ARN, Flow, FlowFragment
from stacks.units.native_monitoring import BASELINE_PREFIX, PACKAGE_BASELINES


class Rejection(FlowFragment):
    """BaselinesPublished … PromotionFailed (no end states: the execution fails here)."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow) -> None:
        super().__init__(scope, construct_id)
        names, where = flow.names, flow.where
        # Built from the end back: every step's handler must exist before it.
        failed = sfn.Fail.jsonata(self, "PromotionFailed", error="PromotionFailed", cause="{% $reason %}")
        notify = tasks.SnsPublish.jsonata(
            self,
            "NotifyFailure",
            topic=where.alerts,
            subject=f"{names.prefix}: model promotion failed",
            message=sfn.TaskInput.from_text(
                f"{{% 'Promotion of ' & {PACKAGE_ARN} & ' to {names.endpoint} failed; the package is Rejected.'"
                " & '\\n\\nReason: ' & $reason %}"
            ),
        )
        notify.add_catch(failed, errors=["States.ALL"]).next(failed)
        reject = flow.call(
            self,
            "RejectPackage",
            "sagemaker",
            "updateModelPackage",
            [flow.package_arns],
            parameters={
                # an imported package: this environment's record of it (the source's registry is read-only here)
                "ModelPackageArn": "{% $package.arn %}" if flow.imports else f"{{% {PACKAGE_ARN} %}}",
                "ModelApprovalStatus": "Rejected",
                "ApprovalDescription": "{% $substring($reason, 0, 1000) %}",
            },
        )
        reject.add_catch(notify, errors=["States.ALL"]).next(notify)
        rejected: sfn.IChainable = reject
        if flow.imports:
            rejected = (
                sfn.Choice.jsonata(self, "Recorded")
                .when(sfn.Condition.jsonata("{% $recorded %}"), reject)
                .otherwise(notify)
            )
        # Before rejecting: monitoring/current/ back to the live package's files, this promotion's model and config
        # deleted where the endpoint does not use them (only configs that were live count for keep_endpoint_configs).
        self._set_bounds(self._restore_published(flow, then=self._discard_new_model(flow, then=rejected)))

    def _restore_published(self, flow: Flow, *, then: sfn.IChainable) -> sfn.IChainable:
        """A failure after the copies to monitoring/current/: copy the files of the live package back (the one
        in the SSM parameter, which is written last), or remove them after a first deploy (no live package)."""
        where = flow.where
        current = flow.names.current_model_prefix
        not_restored = "{% $reason & ' (monitoring/current/ not restored: ' & $states.errorOutput.Cause & ')' %}"
        read = flow.call(
            self,
            "ReadLivePackage",
            "ssm",
            "getParameter",
            [flow.parameter_arn],
            parameters={"Name": where.current_model_parameter},
            assign={"livePackage": "{% $states.result.Parameter.Value %}"},
        )
        keys = [f"{current}/baseline.json", f"{current}/model.tar.gz"]
        if flow.model_monitor:
            keys += [f"{BASELINE_PREFIX}/{file}" for _, file in PACKAGE_BASELINES.values()]
        delete = flow.call(
            self,
            "DeletePublished",
            "s3",
            "deleteObject",
            [where.artifacts_bucket.arn_for_objects(key) for key in keys],
            parameters={"Bucket": where.artifacts_bucket.bucket_name, "Key": "{% $states.input %}"},
        )
        unpublish = sfn.Map.jsonata(
            self, "UnpublishBaselines", items=sfn.ProvideItems.jsonata(f"{{% {json.dumps(keys)} %}}"), max_concurrency=1
        )
        unpublish.item_processor(delete)
        unpublish.add_catch(then, errors=["States.ALL"], assign={"reason": not_restored}).next(then)
        no_live = (
            sfn.Choice.jsonata(self, "NoLivePackage")
            .when(sfn.Condition.jsonata("{% $contains($states.input.Error, 'ParameterNotFound') %}"), unpublish)
            .otherwise(
                sfn.Pass.jsonata(
                    self,
                    "LivePackageUnknown",
                    assign={
                        "reason": "{% $reason & ' (monitoring/current/ not restored: ' & $states.input.Cause & ')' %}"
                    },
                ).next(then)
            )
        )
        read.add_catch(no_live, errors=["States.ALL"])
        describe = flow.call(
            self,
            "DescribeLivePackage",
            "sagemaker",
            "describeModelPackage",
            [flow.package_arns],
            parameters={"ModelPackageName": "{% $livePackage %}"},
            assign={
                "live": {
                    "baselineUri": "{% $states.result.DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri %}",
                    "modelDataUrl": "{% $states.result.InferenceSpecification.Containers[0].ModelDataUrl %}",
                    **flow.package_baseline_fields(),
                }
            },
        )
        restores = [
            flow.copy(self, "RestoreBaseline", "$live.baselineUri", f"{current}/baseline.json"),
            flow.copy(self, "RestoreModel", "$live.modelDataUrl", f"{current}/model.tar.gz"),
        ]
        if flow.model_monitor:
            restores += [
                flow.copy(self, construct_id.replace("Copy", "Restore"), f"$live.{key}", f"{BASELINE_PREFIX}/{file}")
                for key, (construct_id, file) in PACKAGE_BASELINES.items()
            ]
        chain: sfn.IChainable = then
        for step in reversed(restores):
            step.add_catch(then, errors=["States.ALL"], assign={"reason": not_restored}).next(chain)
            chain = step
        describe.add_catch(then, errors=["States.ALL"], assign={"reason": not_restored}).next(chain)
        read.next(describe)
        return (
            sfn.Choice.jsonata(self, "BaselinesPublished")
            .when(sfn.Condition.jsonata("{% $published %}"), read)
            .otherwise(then)
        )

    def _discard_new_model(self, flow: Flow, *, then: sfn.IChainable) -> sfn.IChainable:
        """A rejected promotion's model and endpoint config go at once, unless the endpoint may still use them
        (a rollback that failed): otherwise they would count among `promotion.keep_endpoint_configs` and push out
        the configs of packages that really were live."""
        delete_config = flow.call(
            self,
            "DiscardNewConfig",
            "sagemaker",
            "deleteEndpointConfig",
            [flow.endpoint_configs],
            parameters={"EndpointConfigName": "{% $endpointConfigName %}"},
        )
        delete_model = flow.call(
            self,
            "DiscardNewModel",
            "sagemaker",
            "deleteModel",
            [flow.models],
            parameters={"ModelName": "{% $modelName %}"},
        )
        delete_config.add_catch(delete_model, errors=["States.ALL"]).next(delete_model)  # e.g. never created
        delete_model.add_catch(then, errors=["States.ALL"]).next(then)
        return (
            sfn.Choice.jsonata(self, "NewModelUnused")
            .when(sfn.Condition.jsonata("{% $modelCreated and $not($newConfigInUse) %}"), delete_config)
            .otherwise(then)
        )
