"""Stateful resources must never be replaced by accident.

CloudFormation replaces a resource whose logical ID changes: for a bucket or a key that means a new, empty
resource (and, with RETAIN, an orphaned old one). Renaming a construct or moving it in the tree changes the
logical ID, so this test pins every stateful resource's ID. If it fails, you renamed something stateful:
restore the old ID (e.g. with `override_logical_id`) unless a replacement is what you really want.
"""

from __future__ import annotations

import pytest

from tests.synthesis import Synthesis

# The resource types that hold data or identity that a replacement would lose.
STATEFUL_TYPES = {
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::Athena::WorkGroup",
    "AWS::DynamoDB::Table",
    "AWS::SageMaker::FeatureGroup",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::SageMaker::Pipeline",
    "AWS::SageMaker::MlflowTrackingServer",
}

PINNED = {
    "DataLake": {
        "DataLakeKey6ACD72F9": "AWS::KMS::Key",
        "DataLakeAccessLogs1DA51325": "AWS::S3::Bucket",
        "DataLakeRawZoneAD947861": "AWS::S3::Bucket",
        "DataLakeCuratedZone9CCE5123": "AWS::S3::Bucket",
        "DataLakeFeaturesZone23347C81": "AWS::S3::Bucket",
        "DataLakeArtifactsZone715B1576": "AWS::S3::Bucket",
        "DataLakeGlueDatabaseE8C644F7": "AWS::Glue::Database",
        "DataLakeCuratedTableB837B97E": "AWS::Glue::Table",
        "DataLakeAthenaWorkGroup7295DBEA": "AWS::Athena::WorkGroup",
        "FeatureStoreFeatureGroupCE1132D9": "AWS::SageMaker::FeatureGroup",
        "ModelRegistryModelPackageGroup1833CAA7": "AWS::SageMaker::ModelPackageGroup",
    },
    "MlPipeline": {
        "TrainingPipeline329DEAEC": "AWS::SageMaker::Pipeline",
    },
    "Operations": {
        "OperationsPipelinesMonitoringPipeline53B3E364": "AWS::SageMaker::Pipeline",
        "OperationsPipelinesBatchInferencePipelineB0306A9A": "AWS::SageMaker::Pipeline",
        "RetrainingTriggersState78B802AC": "AWS::DynamoDB::Table",  # idempotency records and the ledger
        "RetrainingTriggersDeadLettersKey8146B903": "AWS::KMS::Key",  # undelivered trigger events
        "ModelPromotionApprovals15D5386A": "AWS::DynamoDB::Table",  # approvals claimed (one promotion each)
    },
}


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_stateful_logical_ids_are_pinned(synthesis: Synthesis, stage: str) -> None:
    for stack in (s for s in synthesis.stacks if s.stage == stage):
        stateful = {k: v["Type"] for k, v in stack.template["Resources"].items() if v["Type"] in STATEFUL_TYPES}
        expected = dict(PINNED.get(stack.stack_id, {}))
        if stack.stack_id == "DataLake" and any(t == "AWS::SageMaker::MlflowTrackingServer" for t in stateful.values()):
            expected["ExperimentTrackingServer3D7A8FD7"] = "AWS::SageMaker::MlflowTrackingServer"
        assert stateful == expected, (
            f"{stage}/{stack.stack_id}: stateful logical IDs changed; a deploy would REPLACE these resources"
        )
