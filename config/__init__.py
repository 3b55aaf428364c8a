"""Typed environment settings: `load_config()` is the only way the app reads configuration."""

from config.settings import ConfigError, EnvironmentConfig, PlatformConfig, load_config

__all__ = ["ConfigError", "EnvironmentConfig", "PlatformConfig", "load_config"]
