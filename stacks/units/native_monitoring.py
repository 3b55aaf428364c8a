"""SageMaker Model Monitor's four schedules, for accounts that still have Model Monitor and Clarify.

Synthesized only where `monitoring.backend: model-monitor`; the `custom` backend (the project's own drift check)
needs none of this. Baselines are read from fixed keys under `monitoring/current/model-monitor/` of the artifacts
zone, which the promotion (`model_promotion`) writes for the model it puts live, so no deploy is needed:

- `data-quality/{statistics,constraints}.json`: copied from the package, whose training run made them with
  Model Monitor's own baselining job (`pipeline.native_checks`, `NativeDataQualityBaseline`);
- `model-explainability/shap_baseline.csv`: copied from the package (`NativeBaselineInputs`);
- `model-bias/analysis_config.json` and `model-explainability/analysis_config.json`: written from
  `bias_analysis_config` and `explainability_analysis_config` below (the layout the SDK's `BiasAnalysisConfig`
  and `ExplainabilityAnalysisConfig` produce; a test compares them).

Model quality, bias drift and feature attribution run without constraint files: their metrics go to CloudWatch,
where `monitoring_alarms` compares them with the config's thresholds.
"""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config import ConfigError, MonitoringSettings
from naming import ResourceNames
from pipeline_code import schema
from stacks.units.compliance import acknowledge, acknowledge_grant_policy, nag_finding
from stacks.units.network import NetworkRefs, grant_sagemaker_network_interfaces
from stacks.units.sagemaker_grants import grant_container_logs, grant_metrics

# Registries of SageMaker's own images (the SDK's image_uri_config: model-monitor.json, clarify.json).
MODEL_MONITOR_REGISTRIES = {
    "af-south-1": "875698925577", "ap-east-1": "001633400207", "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524", "ap-northeast-3": "990339680094", "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676", "ap-southeast-2": "563025443158", "ap-southeast-3": "669540362728",
    "ca-central-1": "536280801234", "eu-central-1": "048819808253", "eu-central-2": "590183933784",
    "eu-north-1": "895015795356", "eu-south-1": "933208885752", "eu-south-2": "437450045455",
    "eu-west-1": "468650794304", "eu-west-2": "749857270468", "eu-west-3": "680080141114",
    "il-central-1": "843974653677", "me-central-1": "588750061953", "me-south-1": "607024016150",
    "sa-east-1": "539772159869", "us-east-1": "156813124566", "us-east-2": "777275614652",
    "us-west-1": "890145073186", "us-west-2": "159807026194",
}  # fmt: skip
CLARIFY_REGISTRIES = {
    "af-south-1": "811711786498", "ap-east-1": "098760798382", "ap-northeast-1": "377024640650",
    "ap-northeast-2": "263625296855", "ap-northeast-3": "912233562940", "ap-south-1": "452307495513",
    "ap-southeast-1": "834264404009", "ap-southeast-2": "007051062584", "ap-southeast-3": "705930551576",
    "ca-central-1": "675030665977", "eu-central-1": "017069133835", "eu-central-2": "730335477804",
    "eu-north-1": "763603941244", "eu-south-1": "638885417683", "eu-west-1": "131013547314",
    "eu-west-2": "440796970383", "eu-west-3": "341593696636", "me-south-1": "835444307964",
    "sa-east-1": "520018980103", "us-east-1": "205585389593", "us-east-2": "211330385671",
    "us-west-1": "740489534195", "us-west-2": "306415355426",
}  # fmt: skip

# Beside the custom backend's copies of the live model and its baseline (ResourceNames.current_model_prefix)
BASELINE_PREFIX = f"{ResourceNames.current_model_prefix}/model-monitor"
MONITORING_TYPES = ("data-quality", "model-quality", "model-bias", "model-explainability")
# What the promotion copies: the package's metadata key (set by the training pipeline's native checks) → the
# promotion's state that copies it, and the file under BASELINE_PREFIX.
PACKAGE_BASELINES = {
    "model_monitor_statistics": ("CopyDataQualityStatistics", "data-quality/statistics.json"),
    "model_monitor_constraints": ("CopyDataQualityConstraints", "data-quality/constraints.json"),
    "model_monitor_shap_baseline": ("CopyShapBaseline", "model-explainability/shap_baseline.csv"),
}
SHAP_SAMPLES = 100  # kernel SHAP samples per explained record


def bias_analysis_config(dataset: schema.Dataset) -> dict[str, Any]:
    """Clarify's analysis config for post-training bias drift: the label and the data set's first facet (its
    compared group's model code), as the bias gate uses them."""
    facet = dataset.facets[0]
    return {
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": facet.name, "value_or_threshold": [dataset.facet_group_code(facet)]}],
        "headers": [dataset.label, *dataset.feature_names],
        "label": dataset.label,
    }


def explainability_analysis_config(endpoint: str, shap_baseline_uri: str, dataset: schema.Dataset) -> dict[str, Any]:
    """Clarify's analysis config for feature attribution drift: SHAP against the live endpoint."""
    return {
        "methods": {
            "shap": {
                "use_logit": False,
                "save_local_shap_values": False,  # per-record values of every captured request: not kept
                "baseline": shap_baseline_uri,
                "num_samples": SHAP_SAMPLES,
                "agg_method": "mean_abs",
            }
        },
        "predictor": {"endpoint_name": endpoint, "accept_type": "text/csv", "content_type": "text/csv"},
        "headers": list(dataset.feature_names),
    }


_CRON = re.compile(r"^cron\(0 (?P<hour>\*|\d{1,2}) (\*|\?) \* (\*|\?) \*\)$")


def model_monitor_schedule(expression: str) -> str:
    """Model Monitor runs hourly or daily at an hour: translate the config's EventBridge expression, or refuse."""
    if expression in ("rate(1 hour)", "rate(60 minutes)"):
        return "cron(0 * ? * * *)"
    if expression == "rate(1 day)":
        return "cron(0 0 ? * * *)"
    match = _CRON.match(expression)
    if match:
        return f"cron(0 {match['hour']} ? * * *)"
    raise ConfigError(
        f"monitoring.schedule {expression!r}: Model Monitor runs only hourly or daily at a given hour; "
        "use cron(0 * * * ? *), cron(0 <hour> * * ? *), rate(1 hour) or rate(1 day)"
    )


def image(registries: dict[str, str], repository: str, region: str, tag: str = "") -> str:
    """The URI of one of SageMaker's own images in `region`; a `ConfigError` where AWS does not publish it."""
    if region not in registries:
        raise ConfigError(
            f"region {region!r}: AWS does not publish {repository} there, so monitoring.backend 'model-monitor' "
            f"cannot run in it; use monitoring.backend 'custom' or one of the regions {', '.join(sorted(registries))}"
        )
    return f"{registries[region]}.dkr.ecr.{region}.amazonaws.com/{repository}{tag}"


class NativeMonitoring(Construct):
    """Job definitions and schedules `<prefix>-{data-quality,model-quality,model-bias,model-explainability}`.

    Expects the endpoint `names.endpoint` with data capture on (instance mode; serverless endpoints capture
    nothing), ground truth under `names.ground_truth_prefix`, and the files the promotion writes under
    BASELINE_PREFIX (see the module's docstring).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        monitoring: MonitoringSettings,
        region: str,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        network: NetworkRefs | None = None,
    ) -> None:
        """`network`: the subnets and security groups the monitoring jobs run in (None: no VPC)."""
        super().__init__(scope, construct_id)
        self._names, self._monitoring, self._bucket, self._key = names, monitoring, artifacts_bucket, key
        try:
            schedule = model_monitor_schedule(monitoring.schedule)
            analyzer = image(MODEL_MONITOR_REGISTRIES, "sagemaker-model-monitor-analyzer", region)
            clarify = image(CLARIFY_REGISTRIES, "sagemaker-clarify-processing", region, ":1.0")
        except ConfigError as exc:  # synth prints only the message: say which environment's config to fix
            raise ConfigError(f"environment '{names.environment}': {exc}") from None
        self.role = self._role()
        if network:
            grant_sagemaker_network_interfaces(self.role)
        self.schedule_names = {kind: f"{names.prefix}-{kind}" for kind in MONITORING_TYPES}

        def common(cfn: Any) -> dict[str, Any]:
            return {
                "role_arn": self.role.role_arn,
                "job_resources": self._resources(cfn),
                "network_config": cfn.NetworkConfigProperty(
                    enable_network_isolation=True,
                    enable_inter_container_traffic_encryption=True,
                    vpc_config=cfn.VpcConfigProperty(
                        subnets=network.subnet_ids, security_group_ids=network.jobs_security_group_ids
                    )
                    if network
                    else None,
                ),
                "stopping_condition": cfn.StoppingConditionProperty(max_runtime_in_seconds=3600),
            }

        data_quality = sagemaker.CfnDataQualityJobDefinition(
            self,
            "DataQualityJob",
            data_quality_app_specification=sagemaker.CfnDataQualityJobDefinition.DataQualityAppSpecificationProperty(
                image_uri=analyzer, environment={"publish_cloudwatch_metrics": "Enabled"}
            ),
            data_quality_baseline_config=sagemaker.CfnDataQualityJobDefinition.DataQualityBaselineConfigProperty(
                constraints_resource=sagemaker.CfnDataQualityJobDefinition.ConstraintsResourceProperty(
                    s3_uri=self._baseline("data-quality", "constraints.json")
                ),
                statistics_resource=sagemaker.CfnDataQualityJobDefinition.StatisticsResourceProperty(
                    s3_uri=self._baseline("data-quality", "statistics.json")
                ),
            ),
            data_quality_job_input=sagemaker.CfnDataQualityJobDefinition.DataQualityJobInputProperty(
                endpoint_input=self._endpoint_input(sagemaker.CfnDataQualityJobDefinition)
            ),
            data_quality_job_output_config=self._output(sagemaker.CfnDataQualityJobDefinition, "data-quality"),
            **common(sagemaker.CfnDataQualityJobDefinition),
        )
        model_quality = sagemaker.CfnModelQualityJobDefinition(
            self,
            "ModelQualityJob",
            model_quality_app_specification=sagemaker.CfnModelQualityJobDefinition.ModelQualityAppSpecificationProperty(
                image_uri=analyzer, problem_type="BinaryClassification"
            ),
            model_quality_job_input=sagemaker.CfnModelQualityJobDefinition.ModelQualityJobInputProperty(
                endpoint_input=self._endpoint_input(sagemaker.CfnModelQualityJobDefinition, labelled=True),
                ground_truth_s3_input=sagemaker.CfnModelQualityJobDefinition.MonitoringGroundTruthS3InputProperty(
                    s3_uri=self._uri(names.ground_truth_prefix)
                ),
            ),
            model_quality_job_output_config=self._output(sagemaker.CfnModelQualityJobDefinition, "model-quality"),
            **common(sagemaker.CfnModelQualityJobDefinition),
        )
        bias = sagemaker.CfnModelBiasJobDefinition(
            self,
            "ModelBiasJob",
            model_bias_app_specification=sagemaker.CfnModelBiasJobDefinition.ModelBiasAppSpecificationProperty(
                image_uri=clarify, config_uri=self._baseline("model-bias", "analysis_config.json")
            ),
            model_bias_job_input=sagemaker.CfnModelBiasJobDefinition.ModelBiasJobInputProperty(
                endpoint_input=self._endpoint_input(sagemaker.CfnModelBiasJobDefinition, labelled=True),
                ground_truth_s3_input=sagemaker.CfnModelBiasJobDefinition.MonitoringGroundTruthS3InputProperty(
                    s3_uri=self._uri(names.ground_truth_prefix)
                ),
            ),
            model_bias_job_output_config=self._output(sagemaker.CfnModelBiasJobDefinition, "model-bias"),
            **common(sagemaker.CfnModelBiasJobDefinition),
        )
        explainability = sagemaker.CfnModelExplainabilityJobDefinition(
            self,
            "ModelExplainabilityJob",
            model_explainability_app_specification=(
                sagemaker.CfnModelExplainabilityJobDefinition.ModelExplainabilityAppSpecificationProperty(
                    image_uri=clarify, config_uri=self._baseline("model-explainability", "analysis_config.json")
                )
            ),
            model_explainability_job_input=sagemaker.CfnModelExplainabilityJobDefinition.ModelExplainabilityJobInputProperty(
                endpoint_input=self._endpoint_input(sagemaker.CfnModelExplainabilityJobDefinition)
            ),
            model_explainability_job_output_config=self._output(
                sagemaker.CfnModelExplainabilityJobDefinition, "model-explainability"
            ),
            **common(sagemaker.CfnModelExplainabilityJobDefinition),
        )
        definitions = {
            "data-quality": ("DataQuality", data_quality),
            "model-quality": ("ModelQuality", model_quality),
            "model-bias": ("ModelBias", bias),
            "model-explainability": ("ModelExplainability", explainability),
        }
        self.schedules: dict[str, sagemaker.CfnMonitoringSchedule] = {}
        for kind, (monitoring_type, definition) in definitions.items():
            definition.node.add_dependency(self.role)
            # Job definitions are immutable: left unnamed, a change creates a new one before the old one goes.
            definition_name = cdk.Fn.select(1, cdk.Fn.split("/", definition.get_att("JobDefinitionArn").to_string()))
            self.schedules[kind] = sagemaker.CfnMonitoringSchedule(
                self,
                f"{monitoring_type}Schedule",
                monitoring_schedule_name=self.schedule_names[kind],
                endpoint_name=names.endpoint,
                monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                    monitoring_job_definition_name=definition_name,
                    monitoring_type=monitoring_type,
                    schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                        schedule_expression=schedule
                    ),
                ),
            )

    # ------------------------------------------------------------------------------------------------ pieces

    def _uri(self, prefix: str) -> str:
        return f"s3://{self._bucket.bucket_name}/{prefix}"

    def _baseline(self, kind: str, file: str) -> str:
        return self._uri(f"{BASELINE_PREFIX}/{kind}/{file}")

    def _endpoint_input(self, cfn: Any, *, labelled: bool = False) -> Any:
        window = {"start_time_offset": f"-PT{self._monitoring.window_hours}H", "end_time_offset": "-PT0H"}
        extra = {"probability_attribute": "0", "probability_threshold_attribute": 0.5, **window} if labelled else {}
        return cfn.EndpointInputProperty(
            endpoint_name=self._names.endpoint,
            local_path="/opt/ml/processing/input/endpoint",
            s3_data_distribution_type="FullyReplicated",
            s3_input_mode="File",
            **extra,
        )

    def _output(self, cfn: Any, kind: str) -> Any:
        return cfn.MonitoringOutputConfigProperty(
            kms_key_id=self._key.key_arn,
            monitoring_outputs=[
                cfn.MonitoringOutputProperty(
                    s3_output=cfn.S3OutputProperty(
                        local_path="/opt/ml/processing/output",
                        s3_uri=self._uri(f"{self._names.monitoring_reports_prefix}/{kind}"),
                        s3_upload_mode="EndOfJob",
                    )
                )
            ],
        )

    def _resources(self, cfn: Any) -> Any:
        return cfn.MonitoringResourcesProperty(
            cluster_config=cfn.ClusterConfigProperty(
                instance_count=self._monitoring.instance_count,
                instance_type=self._monitoring.instance_type,
                volume_size_in_gb=30,
                volume_kms_key_id=self._key.key_arn,
            )
        )

    def _role(self) -> iam.Role:
        names, bucket, key = self._names, self._bucket, self._key
        stack = cdk.Stack.of(self)
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the Model Monitor and Clarify jobs of {names.endpoint}",
        )
        reads = [
            bucket.arn_for_objects(f"{prefix}/*")
            for prefix in (names.data_capture_prefix, names.ground_truth_prefix, BASELINE_PREFIX)
        ]
        writes = bucket.arn_for_objects(f"{names.monitoring_reports_prefix}/*")
        role.add_to_policy(iam.PolicyStatement(sid="ReadInputs", actions=["s3:GetObject"], resources=reads))
        role.add_to_policy(
            iam.PolicyStatement(sid="ListInputs", actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        )
        role.add_to_policy(iam.PolicyStatement(sid="WriteReports", actions=["s3:PutObject"], resources=[writes]))
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LakeKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[key.key_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="VolumeGrants",
                actions=["kms:CreateGrant"],
                resources=[key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        # Clarify's explainability job calls the endpoint for SHAP values.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ExplainWithEndpoint",
                actions=["sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint"],
                resources=[stack.format_arn(service="sagemaker", resource="endpoint", resource_name=names.endpoint)],
            )
        )
        grant_metrics(role, "aws/sagemaker/Endpoints/*", who="Model Monitor and Clarify jobs")
        grant_container_logs(role, "/aws/sagemaker/ProcessingJobs", who="Monitoring jobs")
        for resource, why in (
            (reads[0], "Data capture files are keyed <endpoint>/<variant>/yyyy/mm/dd/hh/<file> at run time."),
            (reads[1], "Ground-truth labels arrive under yyyy/mm/dd/hh/ keys at run time."),
            (reads[2], "A promotion replaces the baselines of the current model under this one prefix."),
            (writes, "Each monitoring execution writes its reports under a key of its own, made at run time."),
        ):
            acknowledge(role, "AwsSolutions-IAM5", why, finding=f"Resource::{nag_finding(role, resource)}")
        acknowledge_grant_policy(role)
        return role
