"""6. Retire superseded: endpoint configs and models of earlier promotions beyond the newest kept; then the
success message, and the run ends (Promoted).

ListEndpointConfigs → DeleteSuperseded (each: DeleteSupersededConfig → DeleteSupersededModel) → NotifyPromoted
→ Promoted. Nothing here fails a promotion: what cannot be deleted stays, and the next promotion tries again.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.units.model_promotion.steps import Flow, FlowFragment


class RetireSuperseded(FlowFragment):
    """ListEndpointConfigs … Promoted (no end states: the run succeeds here)."""

    def __init__(self, scope: Construct, construct_id: str, *, flow: Flow) -> None:
        super().__init__(scope, construct_id)
        names = flow.names
        notify = tasks.SnsPublish.jsonata(
            self,
            "NotifyPromoted",
            topic=flow.where.alerts,
            subject=f"{names.prefix}: model promoted",
            message=sfn.TaskInput.from_text(
                f"{{% $package.arn & ' is live on {names.endpoint} (endpoint config ' & $endpointConfigName & ')."
                "\\n\\nChampion/challenger: ' & $gate.summary %}"
            ),
        )
        done = sfn.Succeed.jsonata(self, "Promoted")
        notify.add_catch(done, errors=["States.ALL"])  # the promotion itself succeeded
        self._set_bounds(self._delete_superseded(flow, then=notify))
        notify.next(done)

    def _delete_superseded(self, flow: Flow, *, then: sfn.IChainable) -> sfn.IChainable:
        """Delete the endpoint configs (and their models, which have the same names) of earlier promotions beyond
        the newest `promotion.keep_endpoint_configs`, the live one always kept."""
        names, keep = flow.names, flow.promotion.keep_endpoint_configs
        # the run name's shape: never a batch model or another's
        ours = f"/^{names.promoted_model_prefix}[0-9]+-[0-9a-f]{{8}}$/"
        listed = flow.call(
            self,
            "ListEndpointConfigs",
            "sagemaker",
            "listEndpointConfigs",
            ["*"],
            iam_action="sagemaker:ListEndpointConfigs",
            parameters={
                "NameContains": names.promoted_model_prefix,
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 100,
            },
            assign={
                # Newest first; [..] keeps one-item results arrays (JSONata unwraps singletons)
                "superseded": (
                    # $filter, not [$ != ...]: a bare `$` is refused by Step Functions' reference checks.
                    f"{{% ($ours := [$states.result.EndpointConfigs[$match(EndpointConfigName, {ours})]"
                    ".EndpointConfigName]; $older := [$filter($ours, function($v) { $v != $endpointConfigName })];"
                    f" $count($older) > {keep - 1} ? [$older[[{keep - 1}..$count($older) - 1]]] : []) %}}"
                )
            },
        )
        delete_config = flow.call(
            self,
            "DeleteSupersededConfig",
            "sagemaker",
            "deleteEndpointConfig",
            [flow.endpoint_configs],
            parameters={"EndpointConfigName": "{% $states.input %}"},
            # DeleteEndpointConfig returns nothing: pass the name on, the model has the same one.
            outputs="{% $states.input %}",
        )
        delete_model = flow.call(
            self,
            "DeleteSupersededModel",
            "sagemaker",
            "deleteModel",
            [flow.models],
            parameters={"ModelName": "{% $states.input %}"},
            outputs="{% $states.input %}",
        )
        deleted = sfn.Succeed.jsonata(self, "SupersededDeleted")
        delete_config.add_catch(delete_model, errors=["States.ALL"], outputs="{% $states.input %}")
        delete_model.add_catch(deleted, errors=["States.ALL"])
        delete_config.next(delete_model).next(deleted)
        each = sfn.Map.jsonata(
            self,
            "DeleteSuperseded",
            items=sfn.ProvideItems.jsonata("{% $superseded %}"),
            max_concurrency=1,
        )
        each.item_processor(delete_config)
        for step in (listed, each):
            step.add_catch(then, errors=["States.ALL"])
        listed.next(each).next(then)
        return listed
