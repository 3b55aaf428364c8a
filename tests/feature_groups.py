"""What the twin's Feature Store endpoint (`local_runner.featurestore`) asks of SageMaker, for tests that run the
endpoint without a moto server: the one feature group the stack creates, described from the data set's schema."""

from __future__ import annotations

from typing import Any

from pipeline_code import schema


class OneFeatureGroup:
    def __init__(self, name: str) -> None:
        self.name = name

    def describe_feature_group(self, FeatureGroupName: str) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        if FeatureGroupName != self.name:
            raise KeyError(FeatureGroupName)
        return {
            "FeatureGroupName": self.name,
            "RecordIdentifierFeatureName": schema.RECORD_IDENTIFIER_NAME,
            "EventTimeFeatureName": schema.EVENT_TIME_NAME,
            "FeatureDefinitions": schema.feature_store_definitions(),
        }
