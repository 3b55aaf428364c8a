"""Typed environment settings: `load_config()` is the only way the app reads configuration.

The modules, from the bottom up: `values` (single-value types and checks, the schedule parser), `sections` (one
environment's sections and the environment), `release` (the release pipeline's section), `platform` (the whole
file), `errors` (the error type and its messages), `loader` (YAML to models), `reference` (docs/configuration.md).
"""

from config.errors import ConfigError
from config.loader import DEFAULT_CONFIG_PATH, load_config
from config.network import (
    INTERFACE_ENDPOINTS,
    FunctionSettings,
    NetworkSettings,
    ReservedConcurrency,
    required_endpoints,
)
from config.platform import PlatformConfig
from config.release import ReleaseSettings, ReleaseSourceSettings
from config.sections import (
    AlertSettings,
    ChampionChallengerSettings,
    DataLakeSettings,
    EnvironmentConfig,
    ExperimentTrackingSettings,
    FeatureStoreSettings,
    GuardrailSettings,
    Hyperparameters,
    InferenceSettings,
    ModelRegistrySettings,
    MonitoringSettings,
    PipelineSettings,
    ProcessingSettings,
    PromotionSettings,
    RetrainingSettings,
    RollbackAlarmSettings,
    Schedules,
    Thresholds,
    TrainingSettings,
    TuningSettings,
)
from config.values import ENVIRONMENT_NAMES, INSTANCE_FAMILIES, LOG_RETENTION_DAYS, REGIONS

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENVIRONMENT_NAMES",
    "INSTANCE_FAMILIES",
    "INTERFACE_ENDPOINTS",
    "LOG_RETENTION_DAYS",
    "REGIONS",
    "AlertSettings",
    "ChampionChallengerSettings",
    "ConfigError",
    "DataLakeSettings",
    "EnvironmentConfig",
    "ExperimentTrackingSettings",
    "FeatureStoreSettings",
    "FunctionSettings",
    "GuardrailSettings",
    "Hyperparameters",
    "InferenceSettings",
    "ModelRegistrySettings",
    "MonitoringSettings",
    "NetworkSettings",
    "PipelineSettings",
    "PlatformConfig",
    "ProcessingSettings",
    "PromotionSettings",
    "ReleaseSettings",
    "ReleaseSourceSettings",
    "ReservedConcurrency",
    "RetrainingSettings",
    "RollbackAlarmSettings",
    "Schedules",
    "Thresholds",
    "TrainingSettings",
    "TuningSettings",
    "load_config",
    "required_endpoints",
]
